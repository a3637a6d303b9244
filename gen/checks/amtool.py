"""`amtool check-config` on the generated Alertmanager configuration, before anything is written.

Like the promtool gate: skipped when amtool is not installed (Debian package prometheus-alertmanager;
`make test` installs it), and then the tests still run it.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def amtool() -> str | None:
    return shutil.which("amtool")


def amtool_check_config(files: dict[str, bytes]) -> list[str]:
    """Run `amtool check-config` on Alertmanager configuration files held in memory; [] when they pass."""
    tool = amtool()
    if tool is None or not files:
        return []
    with tempfile.TemporaryDirectory(prefix="obsgen-amtool-") as tmp:
        paths = []
        for rel, content in sorted(files.items()):
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            paths.append(str(path))
        result = subprocess.run([tool, "check-config", *paths], capture_output=True, text=True)
        if result.returncode == 0:
            return []
        text = (result.stdout + result.stderr).replace(tmp + "/", "")
        return [line for line in text.splitlines() if line.strip()]

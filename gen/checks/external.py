"""Running an upstream checker (promtool, amtool) on files that exist only in memory."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Callable


def check_files(argv: list[str], files: dict[str, bytes], failed: Callable[[subprocess.CompletedProcess], bool],
                prefix: str) -> list[str]:
    """Write `files` to a temporary folder, run `argv + paths`, and return the output lines if `failed` says so.

    Paths in the output are shown relative to the folder, as the files' paths in out/ would read.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        paths = []
        for rel, content in sorted(files.items()):
            path = Path(tmp) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            paths.append(str(path))
        result = subprocess.run([*argv, *paths], capture_output=True, text=True)
        if not failed(result):
            return []
        text = (result.stdout + result.stderr).replace(tmp + "/", "")
        return [line for line in text.splitlines() if line.strip()]

"""`amtool check-config` on the generated Alertmanager configuration, before anything is written.

Like the promtool gate: skipped when amtool is not installed (Debian package prometheus-alertmanager;
`make test` installs it), and then the tests still run it.
"""
from __future__ import annotations

import shutil

from gen.checks.external import check_files


def amtool() -> str | None:
    return shutil.which("amtool")


def amtool_check_config(files: dict[str, bytes]) -> list[str]:
    """Run `amtool check-config` on Alertmanager configuration files held in memory; [] when they pass."""
    tool = amtool()
    if tool is None or not files:
        return []
    return check_files([tool, "check-config"], files, lambda result: result.returncode != 0, "obsgen-amtool-")

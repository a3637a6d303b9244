"""What a target contributes to a build."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Emitted:
    """Files for out/, and rule files as promtool must read them (checked before anything is written)."""

    files: dict[str, bytes] = field(default_factory=dict)
    promtool: dict[str, bytes] = field(default_factory=dict)

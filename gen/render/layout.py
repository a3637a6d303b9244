"""Dashboard geometry and identity: grid positions, panel ids and dashboard uids, all derived, never stored."""
from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

from gen.ir import Panel, Row

GRID_WIDTH = 24
ROW_HEIGHT = 1
UID_MAX = 40


@dataclass(frozen=True)
class Placed:
    panel: Panel | None  # None for a row header
    row: Row | None
    id: int
    x: int
    y: int
    w: int
    h: int


def panel_id(key: str) -> int:
    """A panel id from its key: inserting or removing another panel never renumbers this one,
    so alert links (viewPanel=<id>) survive dashboard edits."""
    return zlib.crc32(key.encode()) % 900_000 + 100_000


def dashboard_uid(service_name: str) -> str:
    if len(service_name) <= UID_MAX:
        return service_name
    digest = hashlib.sha256(service_name.encode()).hexdigest()[:8]
    return f"{service_name[: UID_MAX - 9]}-{digest}"


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "dashboard"


def place(rows: list[Row]) -> list[Placed]:
    """Rows top to bottom; inside a row, panels left to right, wrapping at the grid's width."""
    placed: list[Placed] = []
    y = 0
    for row in rows:
        placed.append(Placed(None, row, panel_id(f"row:{row.key}"), 0, y, GRID_WIDTH, ROW_HEIGHT))
        y += ROW_HEIGHT
        x = 0
        line_height = 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                y += line_height
                x, line_height = 0, 0
            placed.append(Placed(panel, row, panel_id(panel.key), x, y, panel.width, panel.height))
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    _check_unique([p.id for p in placed], [p.panel.key if p.panel else f"row:{p.row.key}" for p in placed])
    return placed


def _check_unique(ids: list[int], keys: list[str]) -> None:
    seen: dict[int, str] = {}
    for pid, key in zip(ids, keys):
        if pid in seen:
            raise ValueError(f"panel keys {seen[pid]!r} and {key!r} hash to the same id {pid}; rename one")
        seen[pid] = key

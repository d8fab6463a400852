"""Where a dataset's export has got to: a row of analytics_watermarks named `export:<dataset>` (for the
configured export directory; another directory has its own, `export:<dataset>@<digest of its path>`).
last_id is the dataset's main cursor (an event or row id); detail holds the rest: the cursor in
full, the last published run, the schema version its files have, and each partition's key range."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from engage.engine.store.schema import AnalyticsWatermark

watermarks = AnalyticsWatermark.__table__


@dataclass
class ExportState:
    cursor: dict[str, Any] = field(default_factory=dict)
    run: str = ""
    version: int = 0
    partitions: dict[str, list[int]] = field(default_factory=dict)  # "YYYY-MM-DD" -> [lowest, highest key]
    digests: dict[str, str] = field(default_factory=dict)  # small datasets: "YYYY-MM-DD" -> content digest

    def as_detail(self, directory: Path) -> dict[str, Any]:
        return {"cursor": self.cursor, "run": self.run, "version": self.version, "dir": str(directory),
                "partitions": self.partitions, "digests": self.digests}

    @classmethod
    def from_detail(cls, detail: dict[str, Any] | None) -> ExportState | None:
        if not detail:
            return None
        return cls(cursor=dict(detail.get("cursor") or {}), run=str(detail.get("run") or ""),
                   version=int(detail.get("version") or 0), partitions=dict(detail.get("partitions") or {}),
                   digests=dict(detail.get("digests") or {}))


def watermark_name(dataset: str, directory: Path, default_directory: Path) -> str:
    if directory.resolve() == default_directory.resolve():
        return f"export:{dataset}"
    return f"export:{dataset}@{hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:8]}"


def load(engine: Engine, name: str) -> ExportState | None:
    with engine.connect() as conn:
        detail = conn.execute(select(watermarks.c.detail).where(watermarks.c.name == name)).scalar()
    return ExportState.from_detail(detail)


def save(engine: Engine, name: str, state: ExportState, directory: Path, last_id: int) -> None:
    """Moved only once the run's files and manifest are in place."""
    values = {"last_id": last_id, "detail": state.as_detail(directory), "updated_at": func.now()}
    with engine.begin() as conn:
        if not conn.execute(update(watermarks).where(watermarks.c.name == name).values(**values)).rowcount:
            conn.execute(insert(watermarks).values(name=name, **values))

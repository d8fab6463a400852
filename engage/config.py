"""Settings from the environment, so every command and process agrees on where the truth is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path(".engage")


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    exports_dir: Path
    default_region: str


def load() -> Settings:
    home = Path(os.environ.get("ENGAGE_HOME", str(DEFAULT_HOME)))
    return Settings(
        database_url=os.environ.get("ENGAGE_DATABASE_URL", f"sqlite:///{home / 'engage.db'}"),
        broker_url=os.environ.get("ENGAGE_BROKER_URL", "memory://"),
        exports_dir=Path(os.environ.get("ENGAGE_EXPORTS_DIR", "exports")),
        default_region=os.environ.get("ENGAGE_DEFAULT_REGION", "UZ"),
    )

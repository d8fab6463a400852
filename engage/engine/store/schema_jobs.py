"""Long jobs people start from the browser (a subscriber CSV import), with their progress, so
that any web process can show the progress bar and the report. Part of engage.engine.store.schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, _now


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "subscribers"
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded, for people to recognise
    path: Mapped[str] = mapped_column(Text)  # where the upload is kept while it is imported
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    total_rows: Mapped[int | None] = mapped_column(BigInteger)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_imported: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    report_path: Mapped[str | None] = mapped_column(Text)  # the rejected rows, CSV
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(254))
    branch: Mapped[str | None] = mapped_column(String(64))
    encoding: Mapped[str | None] = mapped_column(String(32))  # as given for a CSV; None: found from the file
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]  # touched at each step: a running job silent for long has died

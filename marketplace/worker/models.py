"""Scheduled jobs shared by every worker: a row per job says when it is next due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base, UTCDateTime


class ScheduledJob(Base):
    """One periodic job of the whole installation (not of one node).

    A worker claims a due job by moving `next_run_at` on with a guarded UPDATE: of several
    workers polling at once, exactly one sees its UPDATE change the row, and runs the job.
    """

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: who ran it last: host name and process id
    last_worker: Mapped[str] = mapped_column(String(120), default="")
    #: one line: what the job did, or the error that stopped it
    last_result: Mapped[str] = mapped_column(String(500), default="")

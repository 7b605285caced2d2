"""The background jobs and how workers share them.

Two kinds of work:
- installation-wide jobs (expiring orders and documents, reminders, digests, Stripe repair,
  pruning the change feed) run once per period across all workers: each is claimed through
  its ScheduledJob row;
- node work (following the catalogue change feed into this node's search index, a periodic
  full index repair) runs in every worker, on its own node's index. Sending e-mail runs in
  every worker too: the outbox hands each message to one of them.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.worker.models import ScheduledJob

log = logging.getLogger(__name__)
JAKARTA = ZoneInfo("Asia/Jakarta")


@dataclass(frozen=True)
class Job:
    name: str
    #: does the work in the session given (committed by the runner); returns one line
    run: Callable[[Session, Flask], str]
    every: timedelta
    #: for daily jobs: the hour, Jakarta time, at which it becomes due
    at_hour: int | None = None

    def next_run(self, now: datetime) -> datetime:
        if self.at_hour is None:
            return now + self.every
        local = now.astimezone(JAKARTA)
        due = local.replace(hour=self.at_hour, minute=0, second=0, microsecond=0)
        if due <= local:
            due += timedelta(days=1)
        return due.astimezone(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# The jobs ------------------------------------------------------------------------------------


def _expire_orders(session: Session, app: Flask) -> str:
    from marketplace.ordering.services import expire_unanswered_orders
    from marketplace.web import order_rules

    return f"{len(expire_unanswered_orders(session, order_rules()))} order(s) expired"


def _expire_documents(session: Session, app: Flask) -> str:
    from catalog.documents import expire_documents
    from marketplace.vendor.documents import record_expiry
    from marketplace.web import today_in_jakarta

    report = expire_documents(session, today_in_jakarta())
    record_expiry(session, report)
    return f"{len(report.expired)} document(s) expired, {len(report.delisted)} listing(s) delisted"


def _reminders(session: Session, app: Flask) -> str:
    from marketplace.notifications.reminders import queue_reminders
    from marketplace.web import order_rules

    return f"{queue_reminders(session, order_rules()).total} reminder(s)"


def _digests(session: Session, app: Flask) -> str:
    from marketplace.notifications.digest import queue_daily_digests

    return f"{queue_daily_digests(session)} digest(s) queued"


def _stripe_repair(session: Session, app: Flask) -> str:
    if not app.config.get("STRIPE_SECRET_KEY"):
        return "Stripe is not configured"
    from marketplace.payments import card, card_events
    from marketplace.payments.stripe_gateway import gateway_from_config

    gateway = gateway_from_config(app.config)
    report = card.sync_payments(session, gateway)
    applied = card_events.process_pending_events(session, gateway)
    return (
        f"{len(report.changes)} changed, {len(report.held)} held, {len(report.errors)} error(s),"
        f" {len(applied)} stored event(s) applied"
    )


def _prune_change_feed(session: Session, app: Flask) -> str:
    from catalog.changes import prune

    return f"{prune(session)} change row(s) pruned"


INSTALLATION_JOBS: tuple[Job, ...] = (
    Job("orders.expire", _expire_orders, timedelta(minutes=5)),
    Job("catalog.expire-documents", _expire_documents, timedelta(hours=1)),
    Job("notifications.remind", _reminders, timedelta(hours=1)),
    Job("outbox.digest", _digests, timedelta(days=1), at_hour=7),
    Job("payments.sync", _stripe_repair, timedelta(minutes=10)),
    Job("catalog.prune-change-feed", _prune_change_feed, timedelta(hours=6)),
)


# Sharing them --------------------------------------------------------------------------------


def ensure_scheduled(session: Session, jobs: tuple[Job, ...], now: datetime | None = None) -> None:
    """Add the rows of jobs new to this installation (due at once, or at their hour)."""
    now = now or utcnow()
    known = set(session.scalars(select(ScheduledJob.name)))
    for job in jobs:
        if job.name in known:
            continue
        first = job.next_run(now) if job.at_hour is not None else now
        try:
            with session.begin_nested():
                session.add(ScheduledJob(name=job.name, next_run_at=first))
        except IntegrityError:  # another worker added it at the same moment
            pass
    session.commit()


def due_jobs(session: Session, jobs: tuple[Job, ...], now: datetime) -> list[Job]:
    names = set(session.scalars(select(ScheduledJob.name).where(ScheduledJob.next_run_at <= now)))
    session.rollback()
    return [job for job in jobs if job.name in names]


def claim(session: Session, job: Job, now: datetime, worker: str) -> bool:
    """Take the job for this period; True for exactly one of the workers asking at once."""
    result = session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.name == job.name, ScheduledJob.next_run_at <= now)
        .values(next_run_at=job.next_run(now), last_started_at=now, last_worker=worker)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def run_claimed(session: Session, job: Job, app: Flask) -> str:
    """Run a claimed job in one transaction; note how it went either way."""
    try:
        outcome = job.run(session, app)
        session.commit()
    except Exception as error:
        session.rollback()
        log.exception("job %s failed", job.name)
        outcome = f"failed: {type(error).__name__}: {error}"[:500]
    session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.name == job.name)
        .values(last_finished_at=utcnow(), last_result=outcome[:500])
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return outcome

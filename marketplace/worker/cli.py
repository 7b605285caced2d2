"""`flask worker`: the background process of a node. Run one (or more) per app node."""

from __future__ import annotations

import logging
import threading
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from catalog.changes import ChangeFollower
from catalog.db import utcnow
from marketplace.notifications.cli import _stop_on_signals
from marketplace.notifications.mail import sender_from_config
from marketplace.notifications.outbox import send_due
from marketplace.search import catalog_index
from marketplace.worker.jobs import (
    INSTALLATION_JOBS,
    claim,
    due_jobs,
    ensure_scheduled,
    run_claimed,
    worker_name,
)

log = logging.getLogger(__name__)


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Do one round of whatever is due, then stop.")
@click.option(
    "--follow-interval",
    default=2.0,
    show_default=True,
    help="Seconds between reads of the catalogue change feed into this node's search index.",
)
@click.option("--mail-interval", default=5.0, show_default=True, help="Seconds between sends.")
@click.option(
    "--repair-minutes",
    default=15.0,
    show_default=True,
    help="Minutes between full repairs of this node's search index.",
)
def worker_command(once: bool, follow_interval: float, mail_interval: float, repair_minutes: float):  # type: ignore[no-untyped-def]
    """Keep this node's search index in step, send e-mail, and run the installation's
    periodic jobs (each once per period, whichever worker gets it). Any number of workers
    may run, on any number of machines. Stops cleanly on SIGTERM or Ctrl-C."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    factory = app.extensions["db_sessionmaker"]
    me = worker_name()
    directory = app.config["SEARCH_INDEX_DIR"]
    follower = ChangeFollower(catalog_index(directory), directory)
    sender = sender_from_config(app.config)
    if sender is None:
        click.echo("SMTP_HOST is not set: e-mail waits in the outbox.")
    with factory() as session:
        ensure_scheduled(session, INSTALLATION_JOBS)
    stop = threading.Event()
    restore = _stop_on_signals(stop) if not once else (lambda: None)
    next_follow = next_mail = 0.0
    next_repair = time.monotonic() + repair_minutes * 60
    click.echo(f"Worker {me} started.")
    try:
        while True:
            moment = time.monotonic()
            try:
                if moment >= next_follow:
                    with factory() as session:
                        report = follower.follow(session)
                        session.rollback()
                    if report.changes or report.resynced:
                        log.info(
                            "change feed: %d change(s), %d product(s)%s",
                            report.changes,
                            report.products,
                            ", index re-synced" if report.resynced else "",
                        )
                    next_follow = moment + follow_interval
                if sender is not None and moment >= next_mail:
                    mail = send_due(factory, sender)
                    if mail.attempted:
                        click.echo(f"mail: {mail.sent} sent, {mail.retrying} to retry.")
                    next_mail = moment + (0 if mail.attempted >= 50 else mail_interval)
                if moment >= next_repair:
                    with factory() as session:
                        catalog_index(directory).sync(session)
                        session.rollback()
                    next_repair = moment + repair_minutes * 60
                now = utcnow()
                with factory() as session:
                    for job in due_jobs(session, INSTALLATION_JOBS, now):
                        if claim(session, job, now, me):
                            click.echo(f"{job.name}: {run_claimed(session, job, app)}")
            except SQLAlchemyError as error:
                # The database went away for a moment (restart, failover): carry on later.
                log.warning("worker: database error, retrying: %s", error)
                if once:
                    raise
            if once or stop.wait(0.5):
                break
    finally:
        restore()
    click.echo("Worker stopped.")

"""Commands: `flask outbox send|digest|status` and `flask notifications remind`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from marketplace.db import get_session
from marketplace.notifications.mail import MailSender, sender_from_config
from marketplace.notifications.outbox import failed_count, send_due, waiting_count

outbox_cli = AppGroup("outbox", help="E-mail waiting to be sent.")
notifications_cli = AppGroup("notifications", help="Notifications and reminders.")


def register(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
    app.cli.add_command(notifications_cli)


@outbox_cli.command("send")
@click.option("--loop", is_flag=True, help="Keep sending until stopped (SIGTERM or Ctrl-C).")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
@click.option("--batch", default=50, show_default=True, help="Messages per round at most.")
def send(loop: bool, interval: float, batch: int) -> None:
    """Send the e-mails that are due; with --loop, run as a worker. Several workers may run
    at once: each message is sent by one of them."""
    sender = sender_from_config(current_app.config)
    if sender is None:
        session = get_session()
        click.echo(f"SMTP_HOST is not set: {waiting_count(session)} message(s) wait unsent.")
        session.rollback()
        if not loop:
            return
        raise SystemExit(1)
    session_factory = current_app.extensions["db_sessionmaker"]
    stop = threading.Event()
    restore = _stop_on_signals(stop) if loop else (lambda: None)
    try:
        _send_rounds(session_factory, sender, loop=loop, interval=interval, batch=batch, stop=stop)
    finally:
        restore()


def _send_rounds(
    session_factory: Callable[[], Session],
    sender: MailSender,
    *,
    loop: bool,
    interval: float,
    batch: int,
    stop: threading.Event,
) -> None:
    while True:
        try:
            report = send_due(session_factory, sender, batch=batch)
        except SQLAlchemyError as error:
            if not loop:
                raise
            # The database went away for a moment (restart, failover): try again later.
            click.echo(f"Database error, retrying in {interval:g} s: {error}", err=True)
            if stop.wait(interval):
                return
            continue
        if report.attempted or not loop:
            click.echo(
                f"{report.sent} sent, {report.retrying} to retry, {report.given_up} given up"
                + (" (the mail server could not be reached)" if report.unreachable else "")
                + "."
            )
        if not loop:
            return
        # A full round means more may be due: go on at once, unless told to stop.
        wait = 0.0 if report.attempted >= batch and not report.unreachable else interval
        if stop.wait(wait):
            click.echo("Stopped.")
            return


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Finish the round in hand, then stop, on SIGTERM (e.g. from systemd) or Ctrl-C.
    Returns what puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


@outbox_cli.command("digest")
def digest() -> None:
    """Queue today's digest e-mails (safe to repeat: one per person and day). Run daily."""
    from marketplace.notifications.digest import queue_daily_digests

    session = get_session()
    queued = queue_daily_digests(session)
    session.commit()
    click.echo(f"{queued} digest(s) queued.")


@outbox_cli.command("status")
def status() -> None:
    """How many e-mails wait and how many were given up."""
    session = get_session()
    click.echo(f"{waiting_count(session)} waiting, {failed_count(session)} given up.")
    session.rollback()


@notifications_cli.command("remind")
def remind() -> None:
    """Remind people of deadlines near or passed (safe to repeat; run it hourly)."""
    from marketplace.notifications.reminders import queue_reminders
    from marketplace.web import order_rules

    session = get_session()
    report = queue_reminders(session, order_rules())
    session.commit()
    click.echo(
        f"{report.total} reminder(s): {report.acceptance_due} to answer, "
        f"{report.payment_due} payment(s) due, {report.receipt_overdue} receipt(s) overdue, "
        f"{report.payment_overdue} payment(s) overdue."
    )

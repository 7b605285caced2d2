"""The transactional outbox: e-mails are written in the same transaction as the change they
tell about, and sent afterwards by a worker (`flask outbox send`), with retries.

Claiming: a worker takes a few due messages in a short transaction (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, so that two workers never take the same row; on SQLite BEGIN
IMMEDIATE serialises the claim) and leases them by moving `available_at` past the time the
sending may take. It then sends them with no transaction open, and marks each one sent in
its own short transaction. A worker that dies mid-batch leaves its unsent messages leased;
they are sent after the lease runs out, so at most the message in flight goes out twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from catalog.db import utcnow
from marketplace.accounts.models import User
from marketplace.notifications.mail import MailError, MailSender, OutgoingMail
from marketplace.notifications.models import OutboxMessage

log = logging.getLogger(__name__)

#: a claimed message is not given to another worker for this long
LEASE = timedelta(minutes=10)
#: messages claimed per short transaction
CLAIM_SIZE = 10
#: after this many failed attempts a message is given up (failed_at set)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)

SessionFactory = Callable[[], Session]

#: set on a session that queued a message, for the inline sending in development
_QUEUED = "outbox.queued"


# Queueing ----------------------------------------------------------------------------


def email_row(
    user: User, kind: str, subject: str, text: str, html: str = "", dedupe_key: str | None = None
) -> dict[str, Any] | None:
    """The outbox row of an e-mail to `user`; None for someone inactive or without an
    address, who is never written to."""
    if not user.active or not user.email:
        return None
    return {
        "user_id": user.id,
        "kind": kind,
        "recipient": user.email,
        "subject": _one_line(subject)[:300],
        "body_text": text,
        "body_html": html,
        "dedupe_key": dedupe_key,
    }


def queue_emails(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add e-mails (rows from `email_row`, without dedupe keys) to the outbox in the caller's
    transaction, all in one INSERT written at once; they are not held as objects."""
    if not rows:
        return
    session.connection().execute(insert(OutboxMessage), rows)
    session.info[_QUEUED] = True


def queue_email(
    session: Session,
    user: User,
    kind: str,
    subject: str,
    text: str,
    html: str = "",
    dedupe_key: str | None = None,
    *,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Add an e-mail to the outbox in the caller's transaction (flushed, never committed).

    With a `dedupe_key` the message is added only once, ever: None comes back when a
    message with that key exists (a digest or reminder queued twice). Nobody inactive or
    without an address is written to.
    """
    row = email_row(user, kind, subject, text, html, dedupe_key)
    if row is None:
        return None
    message = OutboxMessage(**row)
    if now is not None:
        message.created_at = message.available_at = now
    if dedupe_key is None:
        session.add(message)
        session.flush()
        return message
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return None
    try:
        # A concurrent writer may insert the same key between the check and here.
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        return None
    return message


def _one_line(text: str) -> str:
    return " ".join(text.split())


def waiting_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
        )
        or 0
    )


def failed_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.failed_at.is_not(None))
        )
        or 0
    )


# Sending -----------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    #: attempts that failed and will be retried later
    retrying: int = 0
    #: messages given up for good (refused permanently, or too many attempts)
    given_up: int = 0
    #: the server could not be reached; the rest of the due messages wait
    unreachable: bool = False

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.given_up


def retry_delay(attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
    """1, 2, 4, 8 ... minutes after the 1st, 2nd, 3rd ... failure, at most 6 hours, with
    +-20% jitter so that messages failed together do not all retry in the same second."""
    base = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return base * (0.8 + 0.4 * rng())


def send_due(
    session_factory: SessionFactory,
    sender: MailSender,
    *,
    batch: int = 50,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> SendReport:
    """Send up to `batch` due messages; safe to run in several workers at once."""
    report = SendReport()
    with sender:
        while report.attempted < batch and not report.unreachable:
            claimed = _claim(session_factory, min(CLAIM_SIZE, batch - report.attempted), now)
            if not claimed:
                break
            started = time.monotonic()
            for position, (message_id, mail) in enumerate(claimed):
                if time.monotonic() - started > LEASE.total_seconds() / 2:
                    # Sending is slow: hand the rest back before the lease could run out.
                    _release(session_factory, [i for i, _m in claimed[position:]], now)
                    return report
                try:
                    sender.send(mail)
                except MailError as error:
                    gave_up = _record_failure(session_factory, message_id, error, now, max_attempts)
                    if gave_up:
                        report.given_up += 1
                    else:
                        report.retrying += 1
                    if error.unreachable:
                        report.unreachable = True
                        _release(session_factory, [i for i, _m in claimed[position + 1 :]], now)
                        break
                else:
                    _mark_sent(session_factory, message_id, now)
                    report.sent += 1
    return report


def _due(now: datetime) -> Any:
    return (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.available_at <= now,
    )


def _claim(
    session_factory: SessionFactory, limit: int, now: datetime | None
) -> list[tuple[int, OutgoingMail]]:
    clock = now or utcnow()
    with session_factory() as session, session.begin():
        messages = session.scalars(
            select(OutboxMessage)
            .where(*_due(clock))
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for message in messages:
            message.available_at = clock + LEASE
            claimed.append((message.id, _outgoing(message)))
    return claimed


def _outgoing(message: OutboxMessage) -> OutgoingMail:
    return OutgoingMail(
        to=message.recipient,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        key=f"{message.id}.{int(message.created_at.timestamp())}",
        date=message.created_at,
        headers=(("Auto-Submitted", "auto-generated"),),
    )


def _mark_sent(session_factory: SessionFactory, message_id: int, now: datetime | None) -> None:
    with session_factory() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
            .values(sent_at=now or utcnow(), last_error="")
        )


def _record_failure(
    session_factory: SessionFactory,
    message_id: int,
    error: MailError,
    now: datetime | None,
    max_attempts: int,
) -> bool:
    """Count the attempt and schedule the next one; True when the message is given up."""
    clock = now or utcnow()
    with session_factory() as session, session.begin():
        message = session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None:
            return False
        message.attempts += 1
        message.last_error = str(error)[:2000]
        if error.permanent or message.attempts >= max_attempts:
            message.failed_at = clock
            log.error(
                "e-mail %s given up after %d attempt(s): %s", message_id, message.attempts, error
            )
            return True
        message.available_at = clock + retry_delay(message.attempts)
        log.warning(
            "e-mail %s failed (attempt %d), retried later: %s", message_id, message.attempts, error
        )
        return False


def _release(session_factory: SessionFactory, message_ids: list[int], now: datetime | None) -> None:
    """Give claimed but unsent messages back, due again a minute from now."""
    if not message_ids:
        return
    with session_factory() as session, session.begin():
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.sent_at.is_(None))
            .values(available_at=(now or utcnow()) + FIRST_RETRY)
        )


# Sending inline in development -------------------------------------------------------


def install_inline_sending(app: Flask) -> None:
    """In development with an SMTP host, send the outbox right after a commit that queued
    something, so that a developer sees the e-mail at once without running a worker.

    The worker's own sessions read only committed rows, so nothing goes out before the
    change that queued it is committed; a rolled-back change never reaches this.
    """
    makers: sessionmaker[Session] = app.extensions["db_sessionmaker"]

    def note_queued(session: Session, _context: Any) -> None:
        if any(isinstance(obj, OutboxMessage) for obj in session.new):
            session.info[_QUEUED] = True

    def send_after_commit(session: Session) -> None:
        if not session.info.pop(_QUEUED, False):
            return
        if app.config.get("ENV_NAME") != "development" or not app.config.get("SMTP_HOST"):
            return
        from marketplace.notifications.mail import sender_from_config

        sender = sender_from_config(app.config)
        if sender is None:
            return
        try:
            report = send_due(makers, sender, batch=20)
            log.info("inline outbox: %s", report)
        except Exception:  # the change is committed; a mail problem must not undo the page
            log.exception("inline sending of the outbox failed; `flask outbox send` will retry")

    def forget_queued(session: Session, previous: Any) -> None:
        if not previous.nested:  # a savepoint rolled back leaves the rest of the transaction
            session.info.pop(_QUEUED, None)

    event.listen(makers, "after_flush", note_queued)
    event.listen(makers, "after_commit", send_after_commit)
    event.listen(makers, "after_soft_rollback", forget_queued)

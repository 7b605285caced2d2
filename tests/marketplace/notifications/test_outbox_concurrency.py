"""Two workers sending the same outbox at once: every message arrives exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from marketplace.notifications.mail import SmtpMailSender
from marketplace.notifications.outbox import SendReport, queue_email, send_due
from tests.marketplace.notifications.conftest import outbox, subject

MESSAGES = 50
WORKERS = 2


def test_two_workers_send_each_message_exactly_once(app, db, world, mail):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED proves something on PostgreSQL")
    for number in range(MESSAGES):
        queue_email(db, world.requester, "order.paid", f"Message {number}", f"Body {number}")
    db.commit()

    sessions = app.extensions["db_sessionmaker"]
    barrier = threading.Barrier(WORKERS)
    reports: list[SendReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        sender = SmtpMailSender(
            "127.0.0.1", mail.port, from_address="no-reply@example.org", security="none"
        )
        try:
            barrier.wait()
            while True:  # like `flask outbox send --loop`, until nothing is due
                report = send_due(sessions, sender, batch=7)
                reports.append(report)
                if report.attempted == 0:
                    return
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    subjects = Counter(subject(message) for message in mail.messages)
    assert len(mail.messages) == MESSAGES
    assert set(subjects.values()) == {1}
    assert sum(report.sent for report in reports) == MESSAGES
    assert all(message.sent_at is not None and message.attempts == 0 for message in outbox(db))

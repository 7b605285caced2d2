"""Reminders of deadlines, documents about to expire, and the kinds each order step sends:
each given once, in the app and by e-mail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from catalog.db import utcnow
from catalog.enums import DocumentKind, DocumentStatus
from catalog.models import VendorDocument
from marketplace.notifications.models import Notification
from marketplace.notifications.reminders import queue_reminders
from marketplace.ordering.rules import acceptance_deadline
from marketplace.web import today_in_jakarta
from tests.marketplace.notifications.conftest import outbox


def notified(db, user, kind):  # type: ignore[no-untyped-def]
    return list(
        db.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.kind == kind)
        )
    )


def remind(app, db, world, now):  # type: ignore[no-untyped-def]
    with app.app_context():
        return queue_reminders(db, world.rules, now)


def test_the_vendor_is_reminded_once_when_the_answer_deadline_nears(app, db, world):
    order = world.order_in(db, "approved")
    deadline = acceptance_deadline(order, world.rules)
    assert remind(app, db, world, deadline - timedelta(hours=30)).total == 0
    assert remind(app, db, world, deadline - timedelta(hours=2)).acceptance_due == 2
    assert remind(app, db, world, deadline - timedelta(hours=1)).total == 0  # idempotent
    for person in (world.vendor_owner, world.vendor_staff):
        assert len(notified(db, person, "reminder.acceptance_due")) == 1
        [message] = outbox(db, user_id=person.id, kind="reminder.acceptance_due")
        assert message.dedupe_key == f"remind:accept:{order.id}:{person.id}"
        assert order.reference in message.subject
    assert notified(db, world.requester, "reminder.acceptance_due") == []


def test_the_treasurer_is_reminded_before_and_after_the_payment_deadline(app, db, world):
    order = world.order_in(db, "received")  # payment due 14 days after receipt
    assert remind(app, db, world, utcnow() + timedelta(days=5)).total == 0
    soon = utcnow() + timedelta(days=12)
    assert remind(app, db, world, soon).payment_due == 1
    assert remind(app, db, world, soon).total == 0
    late = utcnow() + timedelta(days=16)
    assert remind(app, db, world, late).payment_overdue == 1
    assert remind(app, db, world, late + timedelta(days=1)).total == 0

    assert len(notified(db, world.treasurer, "reminder.payment_due")) == 1
    assert len(notified(db, world.treasurer, "reminder.payment_overdue")) == 1
    [due, overdue] = outbox(db, user_id=world.treasurer.id)
    assert due.kind == "reminder.payment_due" and overdue.kind == "reminder.payment_overdue"
    assert "Jatuh tempo pembayaran" in overdue.body_text  # the deadline, in Indonesian
    assert order.reference in overdue.body_text


def test_approvers_are_reminded_of_overdue_receipts_once(app, db, world):
    world.order_in(db, "delivered")
    assert remind(app, db, world, utcnow() + timedelta(days=1)).total == 0
    assert remind(app, db, world, utcnow() + timedelta(days=4)).receipt_overdue == 1
    assert remind(app, db, world, utcnow() + timedelta(days=5)).total == 0
    assert len(notified(db, world.approver, "reminder.receipt_overdue")) == 1
    assert len(outbox(db, kind="reminder.receipt_overdue")) == 1
    assert notified(db, world.other_approver, "reminder.receipt_overdue") == []


def test_the_remind_command_runs(app, db, world):
    world.order_in(db, "delivered")
    db.commit()
    result = app.test_cli_runner().invoke(args=["notifications", "remind"])
    assert result.exit_code == 0, result.output
    assert "0 reminder(s)" in result.output  # delivered just now: nothing is overdue yet


def test_the_vendor_is_warned_once_of_a_document_about_to_expire(app, client, db, login, world):
    db.add(
        VendorDocument(
            vendor=world.vendor,
            kind=DocumentKind.HALAL,
            number="LPPOM-00123",
            issued_on=today_in_jakarta() - timedelta(days=400),
            expires_on=today_in_jakarta() + timedelta(days=5),
            file_name="doc-x.pdf",
            file_type="pdf",
            status=DocumentStatus.VERIFIED,
        )
    )
    db.commit()
    runner = app.test_cli_runner()
    for _ in range(3):  # run daily; the warning is given once
        result = runner.invoke(args=["catalog", "expire-documents"])
        assert result.exit_code == 0, result.output
    for person in (world.vendor_owner, world.vendor_staff):
        assert len(notified(db, person, "document.expiring")) == 1
        [message] = outbox(db, user_id=person.id)
        assert message.kind == "document.expiring"
        assert "LPPOM-00123" in message.body_text
        assert "https://" in message.body_text or "http://" in message.body_text
        assert "/vendor/documents" in message.body_text
    login(world.vendor_owner)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "A document of your business expires soon" in page
    assert 'href="/vendor/documents"' in page


def test_payment_and_disputes_reach_the_vendor_and_the_curator(app, db, world):
    with app.app_context():
        world.order_in(db, "paid")
        world.order_in(db, "disputed")
    for person in (world.vendor_owner, world.vendor_staff):
        kinds = [m.kind for m in outbox(db, user_id=person.id)]
        assert "order.paid" in kinds
        assert "order.receipt_refused" in kinds
    [dispute] = outbox(db, user_id=world.curator.id)
    assert dispute.kind == "order.disputed"
    assert "Nasi basi" in dispute.body_text  # the reason given
    assert outbox(db, user_id=world.treasurer.id) == []  # nobody is told what they did

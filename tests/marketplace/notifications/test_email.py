"""E-mail through the outbox: written with the change, sent by `flask outbox send` over real
SMTP, in the recipient's language, retried when the server is down."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta
from itertools import pairwise

from sqlalchemy import func, select

from catalog.db import utcnow
from marketplace.accounts.models import Role
from marketplace.notifications.digest import queue_daily_digests
from marketplace.notifications.emails import notification_email
from marketplace.notifications.mail import MailError, MailSender, SmtpMailSender
from marketplace.notifications.models import (
    Delivery,
    Notification,
    NotificationPreference,
    OutboxMessage,
)
from marketplace.notifications.outbox import (
    LONGEST_RETRY,
    MAX_ATTEMPTS,
    queue_email,
    retry_delay,
    send_due,
)
from tests.marketplace.notifications.conftest import (
    SmtpServer,
    free_port,
    html_part,
    outbox,
    subject,
    text_part,
)
from tests.support import user_with_roles


def send(app, db) -> str:  # type: ignore[no-untyped-def]
    """`flask outbox send`, after ending the test's transaction (which on SQLite would
    hold the write lock against the command)."""
    db.commit()
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_approver_gets_the_email_in_their_own_language(app, db, world, mail):
    english = user_with_roles(db, Role.APPROVER, agency=world.agency, locale="en")
    with app.app_context():
        order = world.order_in(db, "submitted")
    db.commit()

    assert "2 sent" in send(app, db)

    [indonesian_mail] = mail.to(world.approver.email)
    ref, agency = order.number, world.agency.name
    assert subject(indonesian_mail) == (
        f"e-Order: Pesanan {ref} dari {agency} menunggu persetujuan Anda"
    )
    body = text_part(indonesian_mail)
    assert body.startswith(f"Halo, {world.approver.name}")
    assert f"Pesanan {ref} dari {agency} menunggu persetujuan Anda." in body
    assert f"https://eorder.jakarta.go.id/orders/{order.id}" in body
    assert "https://eorder.jakarta.go.id/notifications/preferences" in body
    assert f"Pesanan {ref} dari {agency} menunggu persetujuan Anda." in html_part(indonesian_mail)
    assert '<html lang="id">' in html_part(indonesian_mail)

    [english_mail] = mail.to(english.email)
    assert subject(english_mail) == f"e-Order: Order {ref} from {agency} waits for your approval"
    assert f"Order {ref} from {agency} waits for your approval." in text_part(english_mail)
    assert f'href="https://eorder.jakarta.go.id/orders/{order.id}"' in html_part(english_mail)
    assert '<html lang="en">' in html_part(english_mail)

    # A proper message: both parts, addressed from the configured sender, dated, identified.
    assert english_mail.get_content_type() == "multipart/alternative"
    assert english_mail["From"].addresses[0].addr_spec == "no-reply@eorder.jakarta.go.id"
    assert english_mail["Message-ID"].endswith("@eorder.jakarta.go.id>")
    assert english_mail["Date"] and english_mail["Auto-Submitted"] == "auto-generated"
    assert all(m.sent_at is not None and m.attempts == 0 for m in outbox(db))
    # Sending again sends nothing twice.
    assert "0 sent" in send(app, db)
    assert len(mail.messages) == 2


def test_a_rolled_back_change_queues_nothing(app, db, world, mail):
    db.commit()  # the world stays; only the order is undone
    with app.app_context():
        world.order_in(db, "submitted")
        assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    db.rollback()
    assert outbox(db) == []
    assert db.scalar(select(func.count()).select_from(Notification)) == 0
    assert "0 sent" in send(app, db)
    assert mail.messages == []


def test_utf8_headers_and_bodies_survive_the_trip(app, db, world, mail):
    world.requester.name = "Siti Nurhaliza Ñoño"
    queue_email(
        db,
        world.requester,
        "order.paid",
        "Pembayaran — Kafé ✓ diterima",
        "Terima kasih — ✓",
        "<p>Terima kasih — ✓</p>",
    )
    db.commit()
    send(app, db)
    [message] = mail.to(world.requester.email)
    assert subject(message) == "Pembayaran — Kafé ✓ diterima"
    assert text_part(message).strip() == "Terima kasih — ✓"
    assert html_part(message).strip() == "<p>Terima kasih — ✓</p>"


def test_choosing_no_email_sends_none_but_still_shows_in_the_app(app, db, world, mail):
    db.add(
        NotificationPreference(
            user_id=world.approver.id, kind="order.approval_needed", delivery=Delivery.NONE
        )
    )
    with app.app_context():
        world.order_in(db, "submitted")
    db.commit()
    assert outbox(db, user_id=world.approver.id) == []
    assert db.scalar(select(Notification.kind).where(Notification.user_id == world.approver.id))
    send(app, db)
    assert mail.to(world.approver.email) == []


def test_each_person_told_of_a_change_gets_their_own_choice(app, db, world, mail):
    """Several approvers, each with another choice: none for this kind, one for another kind
    only (the kind's default applies), and the digest; each gets what they chose."""
    silent = user_with_roles(db, Role.APPROVER, agency=world.agency, locale="en")
    other_kind_only = user_with_roles(db, Role.APPROVER, agency=world.agency, locale="en")
    digest = user_with_roles(db, Role.APPROVER, agency=world.agency, locale="en")
    db.add_all(
        [
            NotificationPreference(
                user_id=silent.id, kind="order.approval_needed", delivery=Delivery.NONE
            ),
            NotificationPreference(
                user_id=other_kind_only.id, kind="order.delivered", delivery=Delivery.NONE
            ),
            NotificationPreference(
                user_id=digest.id, kind="order.approval_needed", delivery=Delivery.DIGEST
            ),
        ]
    )
    with app.app_context():
        order = world.order_in(db, "submitted")
    db.commit()
    told = set(
        db.scalars(
            select(Notification.user_id).where(
                Notification.order_id == order.id, Notification.kind == "order.approval_needed"
            )
        )
    )
    assert told == {world.approver.id, silent.id, other_kind_only.id, digest.id}
    assert world.requester.id not in told  # nobody is told what they did themselves
    e_mailed = {
        message.user_id for message in outbox(db) if message.kind == "order.approval_needed"
    }
    assert e_mailed == {world.approver.id, other_kind_only.id}


def test_the_daily_digest_holds_both_notifications_once(app, db, world, mail):
    world.requester.locale = "en"
    with app.app_context():
        order = world.order_in(db, "accepted")  # approved, then accepted: both by digest
    db.commit()
    assert outbox(db, user_id=world.requester.id) == []

    runner = app.test_cli_runner()
    assert "1 digest(s) queued" in runner.invoke(args=["outbox", "digest"]).output
    assert "0 digest(s) queued" in runner.invoke(args=["outbox", "digest"]).output
    send(app, db)
    send(app, db)

    [digest] = mail.to(world.requester.email)
    assert subject(digest) == "e-Order: Your daily summary: 2 notifications"
    body = text_part(digest)
    vendor = world.vendor.trading_name
    assert f"Your order {order.number} is approved and sent to {vendor}." in body
    assert f"{vendor} accepted your order {order.number}." in body
    assert f"https://eorder.jakarta.go.id/orders/{order.id}" in body
    assert f"{vendor} accepted your order {order.number}." in html_part(digest)
    [message] = outbox(db, kind="digest")
    assert message.dedupe_key.startswith(f"digest:{world.requester.id}:")


def test_the_next_digest_holds_only_what_came_after_the_last(app, db, world, mail):
    with app.app_context():
        first_order = world.order_in(db, "approved")
        assert queue_daily_digests(db, utcnow()) == 1
        second_order = world.order_in(db, "approved")
        # The next day: only the second order is new.
        tomorrow = utcnow() + timedelta(days=1)
        assert queue_daily_digests(db, tomorrow) == 1
        assert queue_daily_digests(db, tomorrow) == 0
    first, second = outbox(db, kind="digest")
    assert first_order.reference in first.body_text
    assert second_order.reference in second.body_text
    assert first_order.reference not in second.body_text


def test_read_and_immediate_notifications_are_not_in_the_digest(app, db, world, mail):
    with app.app_context():
        world.order_in(db, "approved")
        for notification in db.scalars(
            select(Notification).where(Notification.user_id == world.requester.id)
        ):
            notification.read_at = utcnow()
        # the approver's "waits for approval" went out at once; nothing for the digest
        assert queue_daily_digests(db, utcnow() + timedelta(seconds=1)) == 0


def test_when_the_mail_server_is_down_the_message_waits_and_goes_later(
    app, db, world, point_mail_at
):
    port = free_port()  # nothing listens here yet
    point_mail_at(port)
    with app.app_context():
        world.order_in(db, "submitted")
    db.commit()

    output = send(app, db)
    assert "0 sent, 1 to retry" in output and "could not be reached" in output
    [message] = outbox(db)
    assert message.sent_at is None and message.failed_at is None
    assert message.attempts == 1
    assert "cannot connect to 127.0.0.1" in message.last_error
    assert message.available_at > utcnow()

    server = SmtpServer(port).start()
    try:
        sessions = app.extensions["db_sessionmaker"]
        with app.app_context():
            sender = SmtpMailSender(
                "127.0.0.1", port, from_address="x@example.org", security="none"
            )
            assert send_due(sessions, sender).sent == 0  # not yet: it backs off
            later = utcnow() + timedelta(minutes=5)
            assert send_due(sessions, sender, now=later).sent == 1
        [arrived] = server.to(world.approver.email)
        assert "menunggu persetujuan Anda" in subject(arrived)
        [message] = outbox(db)
        assert message.sent_at == later and message.attempts == 1 and message.last_error == ""
    finally:
        server.stop()


def test_a_refused_mailbox_is_given_up_at_once(app, db, world, mail):
    world.approver.email = "bounce@example.go.id"
    with app.app_context():
        world.order_in(db, "submitted")
    db.commit()
    assert "1 given up" in send(app, db)
    [message] = outbox(db)
    assert message.failed_at is not None and message.sent_at is None
    assert message.attempts == 1 and "550" in message.last_error


class FlakySender(MailSender):
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    def send(self, mail) -> None:  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise MailError("451 try again later")
        self.sent.append(mail.to)


def test_retries_back_off_and_give_up_after_the_last_attempt(app, db, world):
    queue_email(db, world.requester, "order.paid", "Subject", "Body")
    db.commit()
    sessions = app.extensions["db_sessionmaker"]
    sender = FlakySender(failures=MAX_ATTEMPTS)
    clock = utcnow()
    delays = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = send_due(sessions, sender, now=clock)
        [message] = outbox(db)
        assert message.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert report.retrying == 1
            delays.append(message.available_at - clock)
            assert send_due(sessions, sender, now=clock).attempted == 0  # not due yet
            clock = message.available_at
        else:
            assert report.given_up == 1 and message.failed_at == clock
    assert all(later > earlier for earlier, later in pairwise(delays))
    assert timedelta(seconds=45) <= delays[0] <= timedelta(seconds=75)
    assert sender.sent == []


def test_the_retry_delay_doubles_and_is_capped():
    assert retry_delay(1, rng=lambda: 0.5) == timedelta(minutes=1)
    assert retry_delay(2, rng=lambda: 0.5) == timedelta(minutes=2)
    assert retry_delay(5, rng=lambda: 0.5) == timedelta(minutes=16)
    assert retry_delay(30, rng=lambda: 1.0) == LONGEST_RETRY * 1.2
    assert retry_delay(30, rng=lambda: 0.0) == LONGEST_RETRY * 0.8


def test_without_an_smtp_host_messages_wait(app, db, world):
    queue_email(db, world.requester, "order.paid", "Subject", "Body")
    db.commit()
    saved = app.config["SMTP_HOST"]
    app.config["SMTP_HOST"] = ""
    try:
        assert "SMTP_HOST is not set: 1 message(s) wait" in send(app, db)
    finally:
        app.config["SMTP_HOST"] = saved
    [message] = outbox(db)
    assert message.sent_at is None and message.attempts == 0


def test_in_development_mail_goes_out_right_after_the_commit(app, db, world, mail):
    app.config["ENV_NAME"] = "development"  # the fixture puts it back
    with app.app_context():
        world.order_in(db, "submitted")
        db.flush()
        assert mail.messages == []  # queued, but nothing leaves before the commit
        db.commit()
    [arrived] = mail.to(world.approver.email)
    assert "menunggu persetujuan Anda" in subject(arrived)
    assert outbox(db)[0].sent_at is not None


def test_in_development_a_rolled_back_change_sends_nothing(app, db, world, mail):
    app.config["ENV_NAME"] = "development"
    db.commit()
    with app.app_context():
        world.order_in(db, "submitted")
        db.rollback()
        db.commit()
    assert mail.messages == []


def test_a_page_in_english_queues_email_in_the_recipients_language(
    app, client, db, login, world, mail
):
    order = world.order_in(db, "submitted")
    login(world.approver)  # the browser reads English
    page = client.post(f"/orders/{order.id}/approve", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert f"Order {order.number} is approved and sent to the vendor." in text
    send(app, db)
    [to_vendor] = mail.to(world.vendor_owner.email)
    assert subject(to_vendor) == (
        f"e-Order: Pesanan baru {order.number} dari {world.agency.name}: terima atau tolak"
    )
    assert "Buka pesanan" in text_part(to_vendor)


def test_the_worker_loop_sends_and_stops_on_sigterm(app, db, world, mail):
    queue_email(db, world.requester, "order.paid", "Subject", "Body")
    db.commit()

    def terminate() -> None:
        # Only while the loop's own handler is installed: never kill the test run itself.
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None):
            os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Timer(1.0, terminate)
    timer.start()
    try:
        result = app.test_cli_runner().invoke(
            args=["outbox", "send", "--loop", "--interval", "0.1"]
        )
    finally:
        timer.cancel()
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output and "Stopped." in result.output
    assert len(mail.messages) == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_html_is_escaped_and_text_is_not(app, db, world):
    with app.app_context():
        order = world.order_in(db, "submitted")
        order.activity_name = "Rapat <b>penting</b> & makan"
        email = notification_email(world.approver, "order.approval_needed", order=order)
    assert "Rapat &lt;b&gt;penting&lt;/b&gt; &amp; makan" in email.html
    assert "Rapat <b>penting</b> & makan" in email.text


def test_an_unreachable_server_stops_the_round_and_loses_nothing(app, db, world):
    for number in range(3):
        queue_email(db, world.requester, "order.paid", f"Message {number}", "Body")
    db.commit()
    sender = SmtpMailSender("127.0.0.1", free_port(), from_address="x@example.org", security="none")
    report = send_due(app.extensions["db_sessionmaker"], sender)
    assert report.unreachable and report.retrying == 1 and report.sent == 0
    first, *rest = outbox(db)
    assert first.attempts == 1 and first.available_at > utcnow()
    # The others were not tried against a server that is down, and wait their turn.
    assert all(m.attempts == 0 and m.available_at > utcnow() and m.sent_at is None for m in rest)

"""Stripe's signed webhooks: verified on the raw body, stored once, applied exactly once and
in any order; a success always wins, or is held for finance when it can no longer apply."""

import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from marketplace.budgets.models import BudgetEntry, BudgetLine
from marketplace.finance import exceptions
from marketplace.finance.queries import FinanceScope
from marketplace.ordering.states import OrderStatus
from marketplace.payments import card as card_rail
from marketplace.payments import card_events, services, stripe_gateway
from marketplace.payments.models import PaymentStatus, StripeEvent
from tests.fakes.stripe_server import fee_for, sign
from tests.marketplace.payments.conftest import WEBHOOK


def stored_events(db) -> list[StripeEvent]:
    return list(db.scalars(select(StripeEvent).order_by(StripeEvent.received_at)))


def ledger_state(db, line_id: int) -> tuple[int, int, int]:
    line = db.get(BudgetLine, line_id)
    db.refresh(line)
    entries = db.scalar(
        select(func.count()).select_from(BudgetEntry).where(BudgetEntry.budget_line_id == line_id)
    )
    return line.committed, line.spent, entries


def start(db, world, card, quantity: int = 10):  # type: ignore[no-untyped-def]
    order = world.order_in(db, "received", quantity=quantity)
    card.pay(order)
    return order, card.last_payment()


def open_exceptions(db, kind: str):  # type: ignore[no-untyped-def]
    found = exceptions.find_exceptions(
        db, FinanceScope(None), today=services.jakarta_today(), payment_due_days=14
    )
    return [item for item in found.open if item.kind == kind]


def test_a_completed_checkout_pays_the_orders_and_leaves_the_budget_alone(db, world, card):
    order, payment = start(db, world, card)
    before = ledger_state(db, world.line.id)

    deliveries = card.stripe.complete(payment.stripe_session_id)

    assert [d.status for d in card.stripe.deliveries] == [200, 200]
    assert len(deliveries) == 2
    db.refresh(payment)
    db.refresh(order)
    intent = card.stripe.payment_intents[payment.stripe_payment_intent_id]
    charge = card.stripe.charges[intent["latest_charge"]]
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID
    assert services.outstanding(db, order) == 0
    # spending happened at receipt: paying moves no budget
    assert ledger_state(db, world.line.id) == before
    assert payment.paid_on == card_rail.jakarta_date(charge["created"])
    assert payment.reference == charge["id"] == order.payment_reference
    assert payment.stripe_balance_transaction_id == charge["balance_transaction"]
    assert payment.fee == fee_for(payment.amount * 100) // 100
    assert payment.net == payment.amount - payment.fee
    assert card.audit_count("payment.succeed", payment.id) == 1
    assert card.audit_count("order.pay", order.id) == 1
    events = stored_events(db)
    assert [e.type for e in events] == ["checkout.session.completed", "payment_intent.succeeded"]
    assert all(e.processed_at is not None for e in events)
    assert events[0].outcome.startswith(f"payment {payment.id} succeeded")
    assert events[1].outcome == f"payment {payment.id} already succeeded"


def test_ten_deliveries_of_each_event_have_one_effect(db, world, card):
    order, payment = start(db, world, card)
    events = card.stripe.complete(payment.stripe_session_id, deliver=False)

    deliveries = card.stripe.deliver(*events, times=10)

    assert [d.status for d in deliveries] == [200] * 20
    duplicates = [d for d in deliveries if '"duplicate":true' in d.body.replace(" ", "")]
    assert len(duplicates) == 18
    assert len(stored_events(db)) == 2
    assert card.audit_count("payment.succeed") == 1
    assert card.audit_count("order.pay", order.id) == 1


def test_shuffled_duplicated_deliveries_of_several_payments_each_pay_once(db, world, card):
    payments = [start(db, world, card, quantity=5 + i)[1] for i in range(3)]
    events = [
        event
        for payment in payments
        for event in card.stripe.complete(payment.stripe_session_id, deliver=False)
    ]
    shuffled = events * 4
    random.Random(6).shuffle(shuffled)

    card.stripe.deliver(*shuffled)

    assert {d.status for d in card.stripe.deliveries} == {200}
    assert len(stored_events(db)) == 6
    assert card.audit_count("payment.succeed") == 3
    for payment in payments:
        db.refresh(payment)
        assert payment.status is PaymentStatus.SUCCEEDED


def test_succeeded_before_completed_still_pays_once(db, world, card):
    order, payment = start(db, world, card)

    card.stripe.complete(payment.stripe_session_id, order="reversed")

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID
    assert card.audit_count("payment.succeed") == 1
    first, _second = stored_events(db)
    assert first.type == "payment_intent.succeeded"
    assert first.outcome.startswith(f"payment {payment.id} succeeded")


def test_a_failure_delivered_after_the_success_changes_nothing(db, world, card):
    order, payment = start(db, world, card)
    # the first card was declined, the second one paid; the decline arrives last
    declined = card.stripe.fail(payment.stripe_session_id, deliver=False)
    paid = card.stripe.complete(payment.stripe_session_id, deliver=False)

    card.stripe.deliver(*reversed(paid), declined)

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID
    assert card.audit_count("payment.fail") == 0
    assert "changes nothing" in stored_events(db)[-1].outcome


def test_a_success_after_a_decline_on_the_same_page_pays(db, world, card):
    order, payment = start(db, world, card)
    declined = card.stripe.fail(payment.stripe_session_id, deliver=False)
    paid = card.stripe.complete(payment.stripe_session_id, deliver=False)

    card.stripe.deliver(declined, *paid)

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.failure_reason == ""  # the decline stays in the audit trail
    assert order.status is OrderStatus.PAID
    assert card.audit_count("payment.decline", payment.id) == 1
    assert card.audit_count("payment.fail") == 0
    assert card.audit_count("payment.succeed") == 1


def test_a_declined_card_leaves_stripes_page_open_for_another_card(db, world, card):
    """Checkout keeps the payer on its page after a decline: payment_intent.payment_failed
    comes for every declined attempt, and only the page's expiry ends the payment."""
    order, payment = start(db, world, card)
    session_id = payment.stripe_session_id

    card.stripe.fail(session_id, message="Your card has insufficient funds.")

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.PENDING
    assert payment.failure_reason == "Your card has insufficient funds."
    assert order.status is OrderStatus.RECEIVED
    assert services.pending_card_payment(db, order.id).id == payment.id
    assert card.stripe.sessions[session_id]["status"] == "open"
    assert card.stripe.requests_to("POST", f"/v1/checkout/sessions/{session_id}/expire") == []
    assert card.audit_count("payment.decline", payment.id) == 1
    assert card.audit_count("payment.fail") == 0
    [event] = stored_events(db)
    assert event.outcome.startswith(f"payment {payment.id} declined")
    page = card.client.get(f"/payments/card/return?payment={payment.id}").get_data(as_text=True)
    assert "Waiting for Stripe" in page and "insufficient funds" in page

    card.stripe.fail(session_id, message="Your card was declined.")

    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING
    assert payment.failure_reason == "Your card was declined."
    assert card.audit_count("payment.decline", payment.id) == 2

    card.stripe.expire(session_id)

    db.refresh(payment)
    assert payment.status is PaymentStatus.EXPIRED
    assert services.pending_card_payment(db, order.id) is None
    assert services.outstanding(db, order) == payment.amount
    page = card.client.get(f"/payments/card/return?payment={payment.id}")
    assert "did not go through" in page.get_data(as_text=True)

    card.pay(order)

    again = card.last_payment()
    assert again.id != payment.id and again.status is PaymentStatus.PENDING


def test_a_delayed_payment_that_fails_ends_the_payment(db, world, card):
    order, payment = start(db, world, card)
    session = dict(card.stripe.sessions[payment.stripe_session_id])
    session.update(status="complete", payment_status="unpaid")
    event = card.stripe._event("checkout.session.async_payment_failed", session)

    card.stripe.deliver(event)

    db.refresh(payment)
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_reason == "payment failed"
    assert services.pending_card_payment(db, order.id) is None
    assert card.audit_count("payment.fail", payment.id) == 1


def test_a_late_success_after_the_orders_were_paid_by_transfer_is_held(db, world, card):
    order, payment = start(db, world, card)
    session_id = payment.stripe_session_id
    owed = services.outstanding(db, order)
    card.stripe.fail(session_id)
    card.stripe.expire(session_id)
    db.refresh(payment)
    assert payment.status is PaymentStatus.EXPIRED
    # the treasurer pays the order by transfer instead
    services.record_transfer(
        db,
        world.treasurer,
        [order],
        services.TransferDetails(
            reference="SP2D-0001",
            paid_on=services.jakarta_today(),
            amount=owed,
            payer_account="RKUD",
        ),
    )
    db.commit()
    # the payer's last try on Stripe's page went through after all; that news comes last
    card.stripe.sessions[session_id]["status"] = "open"

    completed, succeeded = card.stripe.complete(session_id)

    db.expire_all()
    assert payment.status is PaymentStatus.HELD
    assert payment.failure_reason == "charged after the orders were paid another way"
    assert payment.reference.startswith("ch_")  # finance can find the charge to refund
    assert order.status is OrderStatus.PAID
    # the vendor is not paid twice, and the order was paid once
    assert services.amount_paid(db, order.id) == owed
    assert card.audit_count("order.pay", order.id) == 1
    assert card.audit_count("payment.succeed", payment.id) == 0
    assert card.audit_count("payment.hold", payment.id) == 1
    outcomes = {e.id: e.outcome for e in stored_events(db)}
    assert outcomes[completed["id"]].startswith(f"held: payment {payment.id}")
    assert outcomes[succeeded["id"]] == f"payment {payment.id} already held"
    [held] = open_exceptions(db, "held_card_payment")
    assert (held.subject, held.amount, held.agency_id) == (
        f"payment:{payment.id}",
        payment.amount,
        world.agency.id,
    )
    assert [(e.endpoint, e.args) for e in held.evidence] == [
        ("payments.payment", {"payment_id": payment.id})
    ]
    assert open_exceptions(db, "duplicate_payment") == []
    page = card.client.get(f"/payments/card/return?payment={payment.id}")
    assert "not applied to these orders" in page.get_data(as_text=True)


def test_an_expired_session_expires_the_payment(db, world, card):
    order, payment = start(db, world, card)

    card.stripe.expire(payment.stripe_session_id)

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.EXPIRED
    assert order.status is OrderStatus.RECEIVED
    assert services.pending_card_payment(db, order.id) is None


def test_a_tampered_body_is_refused_and_nothing_is_stored(db, world, card):
    _order, payment = start(db, world, card)
    events = card.stripe.complete(payment.stripe_session_id, deliver=False)

    [delivery] = card.stripe.deliver(events[0], tamper=True)

    assert delivery.status == 400
    assert "signature" in delivery.body
    assert stored_events(db) == []
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING


def test_a_signature_with_another_secret_is_refused(db, world, card):
    _order, payment = start(db, world, card)
    events = card.stripe.complete(payment.stripe_session_id, deliver=False)

    [delivery] = card.stripe.deliver(events[0], secret="whsec_someone_else")

    assert delivery.status == 400
    assert stored_events(db) == []


def test_an_old_timestamp_is_refused_but_one_within_tolerance_is_accepted(db, world, card):
    _order, payment = start(db, world, card)
    completed, _succeeded = card.stripe.complete(payment.stripe_session_id, deliver=False)

    [old] = card.stripe.deliver(completed, timestamp=int(time.time()) - 301)

    assert old.status == 400
    assert "timestamp" in old.body
    assert stored_events(db) == []
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING

    [recent] = card.stripe.deliver(completed, timestamp=int(time.time()) - 200)

    assert recent.status == 200
    db.refresh(payment)
    assert payment.status is PaymentStatus.SUCCEEDED


def test_a_missing_signature_or_a_body_that_is_not_json_is_refused(db, card):
    sender = card.client
    assert sender.post(WEBHOOK, data=b'{"id": "evt_1"}').status_code == 400
    body = b"not json"
    from tests.fakes.stripe_server import sign

    headers = {"Stripe-Signature": sign(body, card.stripe.webhook_secret)}
    assert sender.post(WEBHOOK, data=body, headers=headers).status_code == 400
    assert stored_events(db) == []


def test_events_about_something_else_are_stored_and_ignored(db, card):
    stripe = card.stripe
    unknown_type = stripe._event("customer.created", {"id": "cus_1", "object": "customer"})
    unknown_session = stripe._event(
        "checkout.session.completed",
        {"id": "cs_elsewhere", "object": "checkout.session", "payment_status": "paid"},
    )

    deliveries = stripe.deliver(unknown_type, unknown_session)

    assert [d.status for d in deliveries] == [200, 200]
    outcomes = {e.type: e.outcome for e in stored_events(db)}
    assert outcomes == {
        "customer.created": "ignored: customer.created",
        "checkout.session.completed": "ignored: unknown Checkout Session cs_elsewhere",
    }


def test_an_event_that_failed_to_apply_is_kept_and_applied_later(db, world, card, app, monkeypatch):
    order, payment = start(db, world, card)
    completed, _succeeded = card.stripe.complete(payment.stripe_session_id, deliver=False)
    real_apply = card_events.apply_event

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr(card_events, "apply_event", crash)
    [failed] = card.stripe.deliver(completed)

    assert failed.status == 500  # Stripe will deliver it again
    [row] = stored_events(db)
    assert row.processed_at is None and row.outcome == "error: RuntimeError"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING

    monkeypatch.setattr(card_events, "apply_event", real_apply)
    db.commit()
    result = app.test_cli_runner().invoke(args=["payments", "process-events"])

    assert result.exit_code == 0, result.output
    assert f"{completed['id']} (checkout.session.completed): payment {payment.id} succeeded" in (
        result.output
    )
    db.expire_all()
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID
    # Stripe's redelivery now finds it applied
    [again] = card.stripe.deliver(completed)
    assert again.status == 200
    assert card.audit_count("payment.succeed") == 1


def test_an_amount_that_differs_from_the_payment_is_held_and_the_order_payable_again(
    db, world, card
):
    order, payment = start(db, world, card)
    session = dict(card.stripe.sessions[payment.stripe_session_id])
    session.update(status="complete", payment_status="paid", amount_total=100)
    event = card.stripe._event("checkout.session.completed", session)

    card.stripe.deliver(event)

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.HELD
    assert "Stripe reports 100 idr" in payment.failure_reason
    assert stored_events(db)[0].outcome.startswith(f"held: payment {payment.id}")
    assert order.status is OrderStatus.RECEIVED
    assert services.pending_card_payment(db, order.id) is None
    assert card.audit_count("payment.hold", payment.id) == 1
    [held] = open_exceptions(db, "held_card_payment")
    assert held.subject == f"payment:{payment.id}"
    # the order does not wait for finance: it can be paid again
    card.pay(order)
    assert card.last_payment().id != payment.id


def test_a_tolerance_of_zero_still_refuses_old_timestamps(db, world, card, app, monkeypatch):
    # the library would skip the timestamp check altogether with 0
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_TOLERANCE", 0)
    _order, payment = start(db, world, card)
    completed, _succeeded = card.stripe.complete(payment.stripe_session_id, deliver=False)

    [old] = card.stripe.deliver(completed, timestamp=int(time.time()) - 301)

    assert old.status == 400
    assert "timestamp" in old.body
    assert stored_events(db) == []
    [recent] = card.stripe.deliver(completed)
    assert recent.status == 200


@pytest.mark.parametrize(
    ("configured", "used"),
    [(0, 300), (-5, 300), ("0", 300), ("", 300), (None, 300), ("soon", 300), (600, 600)],
)
def test_the_webhook_tolerance_is_never_below_one_second(configured, used):
    assert stripe_gateway.webhook_tolerance(configured) == used


def test_verifying_with_a_zero_tolerance_checks_the_timestamp():
    body = b'{"id": "evt_1", "type": "customer.created"}'
    header = sign(body, "whsec_x", int(time.time()) - 301)
    with pytest.raises(stripe_gateway.WebhookRejected, match="timestamp"):
        stripe_gateway.verify_webhook(body, header, "whsec_x", 0)


def test_without_a_webhook_secret_the_endpoint_does_not_exist(app, client, no_stripe):
    assert client.post(WEBHOOK, data=b"{}").status_code == 404


def test_concurrent_duplicate_deliveries_have_one_effect(app, db, world, card):
    """Stripe may deliver the same events at once from several of its servers."""
    order, payment = start(db, world, card)
    events = card.stripe.complete(payment.stripe_session_id, deliver=False)
    deliveries = [card.stripe.signed(event) for event in events] * 8
    random.Random(8).shuffle(deliveries)
    db.commit()

    def send(delivery):  # type: ignore[no-untyped-def]
        body, headers = delivery
        return app.test_client().post(WEBHOOK, data=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(send, deliveries))

    assert statuses == [200] * 16
    db.expire_all()
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID
    assert len(stored_events(db)) == 2
    assert card.audit_count("payment.succeed") == 1
    assert card.audit_count("order.pay", order.id) == 1

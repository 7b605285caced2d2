"""Stripe's signed webhooks: verified on the raw body, stored once, applied exactly once and
in any order; a success always wins."""

import random
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from marketplace.budgets.models import BudgetEntry, BudgetLine
from marketplace.ordering.states import OrderStatus
from marketplace.payments import card as card_rail
from marketplace.payments import services
from marketplace.payments.models import PaymentStatus, StripeEvent
from tests.fakes.stripe_server import fee_for
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


def test_a_success_delivered_after_the_failure_still_wins(db, world, card):
    order, payment = start(db, world, card)
    declined = card.stripe.fail(payment.stripe_session_id, deliver=False)
    paid = card.stripe.complete(payment.stripe_session_id, deliver=False)

    card.stripe.deliver(declined, *paid)

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID
    assert card.audit_count("payment.fail") == 1
    assert card.audit_count("payment.succeed") == 1


def test_a_declined_card_fails_the_payment_and_the_order_is_payable_again(db, world, card):
    order, payment = start(db, world, card)

    card.stripe.fail(payment.stripe_session_id, message="Your card has insufficient funds.")

    db.refresh(payment)
    db.refresh(order)
    assert payment.status is PaymentStatus.FAILED
    assert payment.failure_reason == "Your card has insufficient funds."
    assert order.status is OrderStatus.RECEIVED
    assert services.pending_card_payment(db, order.id) is None
    assert services.outstanding(db, order) == payment.amount
    # Stripe's page is closed, so that it cannot be paid on top of a new attempt
    assert card.stripe.sessions[payment.stripe_session_id]["status"] == "expired"
    page = card.client.get(f"/payments/card/return?payment={payment.id}")
    assert "did not go through" in page.get_data(as_text=True)

    card.pay(order)

    again = card.last_payment()
    assert again.id != payment.id and again.status is PaymentStatus.PENDING


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
    real_apply = card_rail.apply_event

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr(card_rail, "apply_event", crash)
    [failed] = card.stripe.deliver(completed)

    assert failed.status == 500  # Stripe will deliver it again
    [row] = stored_events(db)
    assert row.processed_at is None and row.outcome == "error: RuntimeError"
    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING

    monkeypatch.setattr(card_rail, "apply_event", real_apply)
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


def test_an_amount_that_differs_from_the_payment_is_held_not_paid(db, world, card):
    _order, payment = start(db, world, card)
    session = dict(card.stripe.sessions[payment.stripe_session_id])
    session.update(status="complete", payment_status="paid", amount_total=100)
    event = card.stripe._event("checkout.session.completed", session)

    card.stripe.deliver(event)

    db.refresh(payment)
    assert payment.status is PaymentStatus.PENDING
    assert stored_events(db)[0].outcome.startswith(f"held: payment {payment.id}")


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

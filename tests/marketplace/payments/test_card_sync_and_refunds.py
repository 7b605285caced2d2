"""`flask payments sync` reads state back from Stripe to repair missed webhooks; card
refunds go through Stripe and return money to the budget only when Stripe confirms them."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from catalog.db import utcnow
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.errors import DomainError
from marketplace.ordering.states import OrderStatus
from marketplace.payments import card as card_rail
from marketplace.payments import services
from marketplace.payments.models import PaymentStatus, Refund, RefundStatus
from marketplace.payments.stripe_gateway import StripeClientGateway


def sync(app, db):  # type: ignore[no-untyped-def]
    db.commit()
    result = app.test_cli_runner().invoke(args=["payments", "sync"])
    db.expire_all()
    return result


def refund_entries(db, line_id: int) -> list[BudgetEntry]:
    return list(
        db.scalars(
            select(BudgetEntry).where(
                BudgetEntry.budget_line_id == line_id, BudgetEntry.kind == EntryKind.REFUND
            )
        )
    )


def paid_by_card(db, world, card, quantity: int = 10):  # type: ignore[no-untyped-def]
    order = world.order_in(db, "received", quantity=quantity)
    card.pay(order)
    payment = card.last_payment()
    card.stripe.complete(payment.stripe_session_id)
    db.refresh(payment)
    assert payment.status is PaymentStatus.SUCCEEDED
    return order, payment


def gateway_for(stripe) -> StripeClientGateway:  # type: ignore[no-untyped-def]
    return StripeClientGateway(stripe.api_key, api_base=stripe.url, timeout=1)


# Sync ---------------------------------------------------------------------------------


def test_sync_repairs_a_missed_completion(app, db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    card.stripe.complete(payment.stripe_session_id, deliver=False)  # the webhook got lost

    result = sync(app, db)

    assert result.exit_code == 0, result.output
    assert f"changed: payment {payment.id} succeeded" in result.output
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID
    assert payment.fee is not None and payment.reference.startswith("ch_")
    assert card.audit_count("payment.succeed") == 1

    again = sync(app, db)

    assert "0 changed" in again.output
    # the webhook arriving late changes nothing either
    for event in card.stripe.events_of("checkout.session.completed"):
        card.stripe.deliver(event)
    assert card.audit_count("payment.succeed") == 1


def test_sync_repairs_a_missed_expiry_and_leaves_open_pages_alone(app, db, world, card):
    expired_order = world.order_in(db, "received", quantity=5)
    open_order = world.order_in(db, "received", quantity=6)
    card.pay(expired_order)
    expired = card.last_payment()
    card.pay(open_order)
    still_open = card.last_payment()
    card.stripe.expire(expired.stripe_session_id, deliver=False)

    result = sync(app, db)

    assert result.exit_code == 0, result.output
    assert f"changed: payment {expired.id} expired" in result.output
    assert "1 changed, 1 unchanged" in result.output
    assert expired.status is PaymentStatus.EXPIRED
    assert still_open.status is PaymentStatus.PENDING


def test_sync_without_stripe_keys_says_so(app, db, no_stripe):
    result = sync(app, db)
    assert result.exit_code == 0
    assert "Stripe is not configured" in result.output


def test_sync_reports_stripe_errors_and_goes_on(app, db, world, card):
    first = world.order_in(db, "received", quantity=5)
    second = world.order_in(db, "received", quantity=6)
    card.pay(first)
    lost = card.last_payment()
    card.pay(second)
    found = card.last_payment()
    card.stripe.complete(found.stripe_session_id, deliver=False)
    del card.stripe.sessions[lost.stripe_session_id]  # Stripe no longer knows it

    result = sync(app, db)

    assert result.exit_code == 1
    assert f"error: payment {lost.id}: No such checkout.session" in result.output
    assert found.status is PaymentStatus.SUCCEEDED


# Card refunds -------------------------------------------------------------------------


def test_a_partial_card_refund_waits_for_stripe_then_returns_money_to_the_budget(
    app, db, world, card
):
    order, payment = paid_by_card(db, world, card)
    line = db.get(BudgetLine, world.line.id)
    spent_before = line.spent

    refund = card_rail.refund_card_payment(
        db,
        world.treasurer,
        payment,
        order,
        50_000,
        "Two boxes arrived spoiled",
        gateway=gateway_for(card.stripe),
    )
    db.commit()

    [request] = card.stripe.requests_to("POST", "/v1/refunds")
    assert request.idempotency_key == refund.idempotency_key
    assert request.params["amount"] == "5000000"
    assert request.params["payment_intent"] == payment.stripe_payment_intent_id
    assert request.params["metadata"]["refund_id"] == str(refund.id)
    assert refund.status is RefundStatus.PENDING
    assert refund.stripe_refund_id in card.stripe.refunds
    db.refresh(line)
    assert line.spent == spent_before
    assert refund_entries(db, line.id) == []
    # Stripe's refund.created says "pending": nothing changes
    [created] = card.stripe.events_of("refund.created")
    card.stripe.deliver(created)
    db.refresh(refund)
    assert refund.status is RefundStatus.PENDING

    card.stripe.succeed_refund(refund.stripe_refund_id)

    db.refresh(refund)
    db.refresh(line)
    assert refund.status is RefundStatus.SUCCEEDED
    [entry] = refund_entries(db, line.id)
    assert entry.amount == 50_000 and entry.order_id == order.id
    assert line.spent == spent_before - 50_000
    assert services.amount_paid(db, order.id) == payment.amount - 50_000
    assert services.refundable(db, payment, order.id) == payment.amount - 50_000
    assert card.audit_count("refund.succeed", order.id) == 1


def test_a_card_refund_missed_by_webhooks_is_settled_by_sync(app, db, world, card):
    order, payment = paid_by_card(db, world, card)
    refund = card_rail.refund_card_payment(
        db,
        world.treasurer,
        payment,
        order,
        35_000,
        "Late delivery",
        gateway=gateway_for(card.stripe),
    )
    db.commit()
    card.stripe.succeed_refund(refund.stripe_refund_id, deliver=False)

    result = sync(app, db)

    assert f"changed: refund {refund.id} succeeded" in result.output
    assert refund.status is RefundStatus.SUCCEEDED
    assert len(refund_entries(db, world.line.id)) == 1
    # duplicated and late webhooks add nothing
    events = card.stripe.events_of("refund.updated") + card.stripe.events_of("charge.refunded")
    card.stripe.deliver(*events, times=3)
    assert len(refund_entries(db, world.line.id)) == 1


def test_a_refund_stripe_never_answered_is_sent_again_with_the_same_key(app, db, world, card):
    order, payment = paid_by_card(db, world, card)
    card.stripe.drop_next(3, path="/v1/refunds")  # Stripe made it; every answer was lost

    refund = card_rail.refund_card_payment(
        db,
        world.treasurer,
        payment,
        order,
        20_000,
        "Wrong drinks",
        gateway=gateway_for(card.stripe),
    )
    db.commit()

    assert refund.status is RefundStatus.PENDING and refund.stripe_refund_id is None
    assert len(card.stripe.refunds) == 1

    result = sync(app, db)

    assert result.exit_code == 0, result.output
    requests = card.stripe.requests_to("POST", "/v1/refunds")
    assert len(requests) == 4
    assert {r.idempotency_key for r in requests} == {refund.idempotency_key}
    assert len(card.stripe.refunds) == 1
    assert refund.stripe_refund_id == next(iter(card.stripe.refunds))


def test_a_refund_that_fails_at_stripe_gives_nothing_back(app, db, world, card):
    order, payment = paid_by_card(db, world, card)
    refund = card_rail.refund_card_payment(
        db,
        world.treasurer,
        payment,
        order,
        20_000,
        "Wrong drinks",
        gateway=gateway_for(card.stripe),
    )
    db.commit()

    card.stripe.fail_refund(refund.stripe_refund_id)

    db.refresh(refund)
    assert refund.status is RefundStatus.FAILED
    assert refund_entries(db, world.line.id) == []
    assert services.refundable(db, payment, order.id) == payment.amount
    assert card.audit_count("refund.fail", order.id) == 1


def test_a_refund_stripe_refuses_is_not_recorded(app, db, world, card):
    order, payment = paid_by_card(db, world, card)
    intent = card.stripe.payment_intents[payment.stripe_payment_intent_id]
    intent["status"] = "canceled"  # the fake refuses refunds of an intent not succeeded

    with pytest.raises(DomainError, match="Stripe refused the refund"):
        card_rail.refund_card_payment(
            db, world.treasurer, payment, order, 20_000, "x", gateway=gateway_for(card.stripe)
        )
    assert card.stripe.refunds == {}


def test_the_treasurer_refunds_a_card_payment_from_the_payment_page(app, db, world, card):
    order, payment = paid_by_card(db, world, card)

    response = card.client.post(
        f"/payments/{payment.id}/refunds",
        data={"order_id": order.id, "amount": 70_000, "reason": "Dispute settled: 2 boxes"},
    )

    assert response.status_code == 302
    refund = db.scalars(select(Refund)).one()
    assert refund.amount == 70_000 and refund.status is RefundStatus.PENDING
    assert card.stripe.refunds[refund.stripe_refund_id]["amount"] == 7_000_000

    card.stripe.succeed_refund(refund.stripe_refund_id)

    db.refresh(refund)
    assert refund.status is RefundStatus.SUCCEEDED


def test_a_refund_event_arriving_before_its_refund_is_committed_waits(app, db, world, card):
    order, payment = paid_by_card(db, world, card)
    refund = card_rail.refund_card_payment(
        db,
        world.treasurer,
        payment,
        order,
        20_000,
        "Wrong drinks",
        gateway=gateway_for(card.stripe),
    )
    card.stripe.succeed_refund(refund.stripe_refund_id, deliver=False)
    events = card.stripe.events_of("refund.updated")
    refund_id = refund.id
    db.rollback()  # as if the refund's own transaction had not committed yet
    # ... so the app sees an event naming a refund it does not have

    with app.app_context():
        from marketplace.db import get_session

        session = get_session()
        assert card_rail.record_event(session, events[0])
        row = card_rail.lock_event(session, events[0]["id"])
        outcome = card_rail.apply_event(session, row, None)
        session.commit()

    assert outcome == f"waiting: refund {refund_id} is not recorded yet"
    with app.app_context():
        from marketplace.db import get_session

        session = get_session()
        row = card_rail.lock_event(session, events[0]["id"])
        assert row.processed_at is None
        # a day later it is given up
        row.stripe_created = utcnow() - timedelta(days=2)
        assert card_rail.apply_event(session, row, None).startswith("ignored:")
        assert row.processed_at is not None
        session.commit()


def test_only_a_payment_stripe_confirmed_can_be_refunded_by_card(db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()

    with pytest.raises(DomainError):
        card_rail.refund_card_payment(
            db, world.treasurer, payment, order, 1_000, "x", gateway=gateway_for(card.stripe)
        )
    assert db.scalar(select(func.count()).select_from(Refund)) == 0


def test_sync_records_a_fee_stripe_could_not_give_during_the_webhook(app, db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    # both events' reads of the charge's balance transaction get no answer
    card.stripe.drop_next(2, method="GET", path="/v1/payment_intents/")

    card.stripe.complete(payment.stripe_session_id)

    db.refresh(payment)
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.fee is None
    assert order.payment_reference == f"payment-{payment.id}"

    result = sync(app, db)

    assert f"changed: payment {payment.id} already succeeded; fee {payment.fee}" in result.output
    assert payment.fee > 0 and payment.net == payment.amount - payment.fee
    assert payment.reference.startswith("ch_")


def test_sync_holds_a_charge_whose_amount_differs_for_finance(app, db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()
    card.stripe.complete(payment.stripe_session_id, deliver=False)
    card.stripe.sessions[payment.stripe_session_id]["amount_total"] = 100

    result = sync(app, db)

    assert f"held for finance: held: payment {payment.id} expects" in result.output
    assert payment.status is PaymentStatus.PENDING
    assert order.status is OrderStatus.RECEIVED

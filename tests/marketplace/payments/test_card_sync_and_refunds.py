"""`flask payments sync` reads state back from Stripe to repair missed webhooks; card
refunds go through Stripe and return money to the budget only when Stripe confirms them."""

from datetime import timedelta

import pytest
from flask import get_flashed_messages
from flask import session as flask_session
from flask_login import login_user
from sqlalchemy import create_engine, func, select, update

from catalog.db import utcnow
from marketplace.accounts.models import User
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.db import get_session
from marketplace.errors import DomainError
from marketplace.finance import exceptions
from marketplace.finance.queries import FinanceScope
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.payments import card as card_rail
from marketplace.payments import card_views, services
from marketplace.payments.models import Payment, PaymentStatus, Refund, RefundStatus, StripeEvent
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


def refund_by_card(db, world, card, payment, order, amount, reason):  # type: ignore[no-untyped-def]
    """The refund as the view makes it: recorded and committed, then sent to Stripe."""
    refund = card_rail.request_card_refund(db, world.treasurer, payment, order, amount, reason)
    db.commit()
    card_rail.send_card_refund(db, refund, gateway_for(card.stripe))
    db.commit()
    return refund


def refund_through_the_form(app, db, world, payment, order, amount, reason):  # type: ignore[no-untyped-def]
    """card_views.refund_by_card in a request, as the treasurer; returns the flashes."""
    user_id, payment_id, order_id = world.treasurer.id, payment.id, order.id
    db.commit()  # (after reading the ids: on SQLite a read would begin and lock again)
    with app.test_request_context(f"/payments/{payment_id}/refunds", method="POST"):
        flask_session["lang"] = "en"
        session = get_session()
        login_user(session.get(User, user_id))
        card_views.refund_by_card(
            session.get(Payment, payment_id), session.get(Order, order_id), amount, reason
        )
        flashes = get_flashed_messages(with_categories=True)
    db.expire_all()
    return flashes


def card_refund_exceptions(db, scope=None):  # type: ignore[no-untyped-def]
    found = exceptions.find_exceptions(
        db,
        scope or FinanceScope(None),
        today=services.jakarta_today(),
        payment_due_days=14,
    )
    return [item for item in found.open if item.kind == "unmatched_card_refund"]


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

    refund = refund_by_card(db, world, card, payment, order, 50_000, "Two boxes arrived spoiled")

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
    refund = refund_by_card(db, world, card, payment, order, 35_000, "Late delivery")
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

    refund = refund_by_card(db, world, card, payment, order, 20_000, "Wrong drinks")

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
    refund = refund_by_card(db, world, card, payment, order, 20_000, "Wrong drinks")

    card.stripe.fail_refund(refund.stripe_refund_id)

    db.refresh(refund)
    assert refund.status is RefundStatus.FAILED
    assert refund_entries(db, world.line.id) == []
    assert services.refundable(db, payment, order.id) == payment.amount
    assert card.audit_count("refund.fail", order.id) == 1


def test_a_refund_stripe_refuses_is_recorded_failed_and_the_amount_stays_refundable(
    app, db, world, card
):
    order, payment = paid_by_card(db, world, card)
    intent = card.stripe.payment_intents[payment.stripe_payment_intent_id]
    intent["status"] = "canceled"  # the fake refuses refunds of an intent not succeeded

    flashes = refund_through_the_form(app, db, world, payment, order, 20_000, "x")

    [(category, message)] = flashes
    assert category == "error" and message.startswith("Stripe refused the refund")
    assert card.stripe.refunds == {}
    refund = db.scalars(select(Refund)).one()
    assert refund.status is RefundStatus.FAILED and refund.stripe_refund_id is None
    assert services.refundable(db, payment, order.id) == payment.amount
    assert card.audit_count("refund.fail", order.id) == 1
    assert refund_entries(db, world.line.id) == []


def test_a_refund_stripe_refuses_in_one_transaction_is_not_recorded(app, db, world, card):
    """refund_card_payment (views.py's call until it moves to card_views.refund_by_card)."""
    order, payment = paid_by_card(db, world, card)
    intent = card.stripe.payment_intents[payment.stripe_payment_intent_id]
    intent["status"] = "canceled"

    with pytest.raises(DomainError, match="Stripe refused the refund"):
        card_rail.refund_card_payment(
            db, world.treasurer, payment, order, 20_000, "x", gateway=gateway_for(card.stripe)
        )
    assert card.stripe.refunds == {}


def test_the_refund_is_committed_before_stripe_is_asked(app, db, world, card, monkeypatch):
    order, payment = paid_by_card(db, world, card)
    committed = []
    create_refund = StripeClientGateway.create_refund

    def look_then_create(self, payment_intent, amount_minor, idempotency_key, metadata):  # type: ignore[no-untyped-def]
        # what another connection reads at the moment Stripe is asked (a plain engine: the
        # app's SQLite transactions take the write lock, which the request may hold)
        reader = create_engine(app.config["DATABASE_URL"])
        try:
            with reader.connect() as other:
                committed.append(
                    other.scalar(
                        select(Refund.status).where(Refund.idempotency_key == idempotency_key)
                    )
                )
        finally:
            reader.dispose()
        return create_refund(self, payment_intent, amount_minor, idempotency_key, metadata)

    monkeypatch.setattr(StripeClientGateway, "create_refund", look_then_create)

    flashes = refund_through_the_form(app, db, world, payment, order, 40_000, "Spoiled")

    assert committed == [RefundStatus.PENDING]
    assert flashes == [("success", "The refund of Rp 40.000 is recorded.")]
    refund = db.scalars(select(Refund)).one()
    assert refund.stripe_refund_id in card.stripe.refunds
    assert card.stripe.refunds[refund.stripe_refund_id]["metadata"]["refund_key"] == (
        refund.idempotency_key
    )


def test_a_refund_whose_answer_was_lost_stays_recorded_and_sync_sends_it_again(
    app, db, world, card
):
    order, payment = paid_by_card(db, world, card)
    card.stripe.drop_next(3, path="/v1/refunds")  # Stripe refunds; the answers are lost

    flashes = refund_through_the_form(app, db, world, payment, order, 20_000, "Wrong drinks")

    [(category, message)] = flashes
    assert category == "info" and "Stripe has not answered yet" in message
    refund = db.scalars(select(Refund)).one()
    assert refund.status is RefundStatus.PENDING and refund.stripe_refund_id is None
    [stripe_refund] = card.stripe.refunds.values()
    # Stripe's own events about it find the recorded refund by the id and key it carries
    card.stripe.succeed_refund(stripe_refund["id"])
    db.refresh(refund)
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.stripe_refund_id == stripe_refund["id"]
    assert card_refund_exceptions(db) == []

    result = sync(app, db)

    assert result.exit_code == 0, result.output
    assert len(card.stripe.refunds) == 1
    assert len(refund_entries(db, world.line.id)) == 1


def test_a_refund_made_at_stripe_alone_is_listed_for_finance(app, db, world, card):
    """A refund made on Stripe's dashboard (or one whose record was lost): its events are
    kept as "unmatched refund", and finance lists it once, not once per event."""
    _order, payment = paid_by_card(db, world, card)
    made = gateway_for(card.stripe).create_refund(
        payment.stripe_payment_intent_id, 3_000_000, "dashboard-1", {}
    )
    [created] = card.stripe.events_of("refund.created")

    card.stripe.deliver(created)
    card.stripe.succeed_refund(made["id"])

    outcomes = {
        e.type: e.outcome
        for e in db.scalars(select(StripeEvent).where(StripeEvent.type.like("%refund%")))
    }
    assert outcomes["refund.created"].startswith(f"unmatched refund {made['id']}")
    assert outcomes["refund.updated"].startswith(f"unmatched refund {made['id']}")
    assert outcomes["charge.refunded"].startswith("unmatched refund: charge")
    assert db.scalar(select(func.count()).select_from(Refund)) == 0
    assert refund_entries(db, world.line.id) == []
    [item] = card_refund_exceptions(db)
    assert (item.subject, item.amount, item.agency_id) == (
        f"stripe:{made['id']}",
        30_000,
        world.agency.id,
    )
    assert [e.endpoint for e in item.evidence] == ["finance.stripe_event", "payments.payment"]
    assert card_refund_exceptions(db, FinanceScope(frozenset({world.agency.id})))
    assert card_refund_exceptions(db, FinanceScope(frozenset({world.other_agency.id}))) == []


def test_a_refund_stripe_reports_for_another_amount_is_held_not_settled(app, db, world, card):
    order, payment = paid_by_card(db, world, card)
    line = db.get(BudgetLine, world.line.id)
    spent_before = line.spent
    refund = refund_by_card(db, world, card, payment, order, 20_000, "Wrong drinks")
    card.stripe.refunds[refund.stripe_refund_id]["amount"] = 1_000_000  # Rp 10.000

    card.stripe.succeed_refund(refund.stripe_refund_id)

    db.refresh(refund)
    db.refresh(line)
    assert refund.status is RefundStatus.PENDING
    assert refund_entries(db, line.id) == [] and line.spent == spent_before
    [updated] = db.scalars(select(StripeEvent).where(StripeEvent.type == "refund.updated"))
    assert updated.outcome.startswith(f"held: refund amount differs: refund {refund.id}")
    result = sync(app, db)
    assert f"held for finance: held: refund amount differs: refund {refund.id}" in result.output
    assert refund.status is RefundStatus.PENDING


def test_a_refund_the_ledger_refuses_leaves_nothing_half_done(app, db, world, card):
    order, payment = paid_by_card(db, world, card)
    refund = refund_by_card(db, world, card, payment, order, 20_000, "Wrong drinks")
    # the line no longer shows the spending the refund would give back
    db.execute(update(BudgetLine).where(BudgetLine.id == world.line.id).values(spent=0))
    db.commit()

    card.stripe.succeed_refund(refund.stripe_refund_id)

    assert [d.status for d in card.stripe.deliveries[-2:]] == [200, 200]
    db.expire_all()
    assert refund.status is RefundStatus.PENDING and refund.succeeded_at is None
    assert refund_entries(db, world.line.id) == []
    assert card.audit_count("refund.succeed") == 0
    events = list(db.scalars(select(StripeEvent).where(StripeEvent.type.like("%refund%"))))
    refused = [e for e in events if e.type in ("refund.updated", "charge.refunded")]
    assert len(refused) == 2
    assert all(e.outcome.startswith("refused: ") and e.processed_at for e in refused)
    # sync tries again on every run, and says why it cannot
    result = sync(app, db)
    assert result.exit_code == 1
    assert f"error: refund {refund.id}: " in result.output
    assert refund.status is RefundStatus.PENDING


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
        session = get_session()
        assert card_rail.record_event(session, events[0])
        row = card_rail.lock_event(session, events[0]["id"])
        outcome = card_rail.apply_event(session, row, None)
        session.commit()

    assert outcome == f"waiting: refund {refund_id} is not recorded yet"
    with app.app_context():
        session = get_session()
        row = card_rail.lock_event(session, events[0]["id"])
        assert row.processed_at is None
        # a day later it is given up, as a refund Stripe made that is not recorded here
        row.stripe_created = utcnow() - timedelta(days=2)
        assert card_rail.apply_event(session, row, None) == (
            f"unmatched refund: refund {refund_id} never recorded; for finance"
        )
        assert row.processed_at is not None
        session.commit()
    [item] = card_refund_exceptions(db)
    assert item.subject == f"stripe:{events[0]['data']['object']['id']}"
    assert item.amount == 20_000 and item.agency_id == world.agency.id


def test_only_a_payment_stripe_confirmed_can_be_refunded_by_card(db, world, card):
    order = world.order_in(db, "received")
    card.pay(order)
    payment = card.last_payment()

    with pytest.raises(DomainError):
        card_rail.request_card_refund(db, world.treasurer, payment, order, 1_000, "x")
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

    assert f"held for finance: held: payment {payment.id}: Stripe reports 100 idr" in (
        result.output
    )
    assert payment.status is PaymentStatus.HELD
    assert order.status is OrderStatus.RECEIVED
    assert services.pending_card_payment(db, order.id) is None
    # held once: the next sync does not read it again
    assert "0 changed, 0 unchanged, 0 held" in sync(app, db).output

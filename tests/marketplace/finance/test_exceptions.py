"""Each kind of reconciliation exception, seeded on its own, is found (and a clean world
has none); finance explains one with a note and it moves to the explained list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from marketplace.audit.models import AuditEvent
from marketplace.budgets import services as ledger
from marketplace.errors import Conflict, DomainError, NotFound, PermissionDenied
from marketplace.finance import exceptions
from marketplace.finance.queries import FinanceScope
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from marketplace.payments.models import (
    ExplainedException,
    PaymentRail,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
)
from tests.marketplace.finance.conftest import pay, seed_payment

DUE_DAYS = 14
EVERYWHERE = FinanceScope(None)


def found(db, *, today=None, scope=EVERYWHERE):  # type: ignore[no-untyped-def]
    return exceptions.find_exceptions(
        db, scope, today=today or payments.jakarta_today(), payment_due_days=DUE_DAYS
    )


def kinds_and_subjects(result) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(item.kind, item.subject) for item in result.open}


def stripe_event(db, event_id, type_, obj, *, minute=0):  # type: ignore[no-untyped-def]
    event = StripeEvent(
        id=event_id,
        type=type_,
        stripe_created=datetime(2026, 11, 2, 3, minute, tzinfo=UTC),
        payload={"id": event_id, "type": type_, "data": {"object": obj}},
        outcome="ignored: unknown session",
    )
    db.add(event)
    db.flush()
    return event


def test_a_clean_world_has_no_exceptions(db, world, orders):
    orders.received()  # received today: not yet due
    orders.paid()
    orders.reconciled(other_agency=True)
    result = found(db)
    assert result.open == [] and result.explained == []


def test_received_but_unpaid_past_due(db, world, orders):
    overdue = orders.received(days_ago=20)
    orders.received(days_ago=3)  # not yet due
    owed = payments.net_payable(db, overdue)
    [item] = found(db).open
    assert (item.kind, item.subject, item.amount) == (
        "unpaid_past_due",
        f"order:{overdue.id}",
        owed,
    )
    assert item.agency_id == world.agency.id
    assert item.evidence[0].endpoint == "ordering.order"
    assert item.evidence[0].args == {"order_id": overdue.id}
    # the same order, a partial payment later, still owes the rest
    pay(db, world, overdue, amount=owed - 10_000, partial_reason="Denda keterlambatan")
    [item] = found(db).open
    assert item.amount == 10_000


def test_due_date_counts_jakarta_days(db, world, orders):
    order = orders.received()
    received_on = order.received_at.astimezone(payments.JAKARTA).date()
    due = received_on + timedelta(days=DUE_DAYS)
    assert found(db, today=due).open == []
    [item] = found(db, today=due + timedelta(days=1)).open
    assert item.day == due


def test_paid_without_receipt(db, world, orders):
    order = world.order_in(db, "delivered")
    payment = seed_payment(db, order, 350_000)
    [item] = found(db).open
    assert (item.kind, item.subject, item.amount) == (
        "paid_without_receipt",
        f"order:{order.id}",
        350_000,
    )
    assert [e.endpoint for e in item.evidence] == ["ordering.order", "payments.payment"]
    assert item.evidence[1].args == {"payment_id": payment.id}
    assert order.status is OrderStatus.DELIVERED


def test_paid_amount_differs_from_net_payable(db, world, orders):
    order = orders.paid()
    net = payments.net_payable(db, order)
    # a refund after payment leaves the vendor with less than the invoice says
    payment = payments.payments_of_order(db, order.id)[0]
    payments.request_refund(
        db, world.treasurer, payment, order, 25_000, "Satu kotak basi", reference="RET-1"
    )
    result = found(db)
    [item] = [i for i in result.open if i.kind == "amount_mismatch"]
    assert item.subject == f"order:{order.id}"
    assert (item.expected, item.actual, item.amount) == (net, net - 25_000, -25_000)


def test_card_charge_with_no_matching_order(db, world, orders):
    order = orders.received()
    seed_payment(
        db,
        order,
        payments.outstanding(db, order),
        rail=PaymentRail.CARD,
        stripe_session_id="cs_known",
        stripe_payment_intent_id="pi_known",
    )
    stripe_event(
        db,
        "evt_known",
        "checkout.session.completed",
        {"id": "cs_known", "payment_intent": "pi_known", "amount_total": 100},
    )
    stripe_event(
        db,
        "evt_1",
        "checkout.session.completed",
        {"id": "cs_stray", "payment_intent": "pi_stray", "amount_total": 42_000_000},
    )
    # the same stray charge reported again as an intent and a charge: one exception
    stripe_event(db, "evt_2", "payment_intent.succeeded", {"id": "pi_stray", "amount": 42_000_000})
    stripe_event(
        db,
        "evt_3",
        "charge.succeeded",
        {"id": "ch_stray", "payment_intent": "pi_stray", "amount": 42_000_000},
    )
    stripe_event(
        db,
        "evt_4",
        "charge.succeeded",
        {"id": "ch_other", "payment_intent": "pi_other", "amount": 5_000_00},
    )
    items = [i for i in found(db).open if i.kind == "unmatched_card_charge"]
    assert [(i.subject, i.amount) for i in items] == [
        ("stripe:pi_stray", 420_000),
        ("stripe:pi_other", 5_000),
    ]
    assert items[0].evidence[0].endpoint == "finance.stripe_event"
    assert items[0].evidence[0].args == {"event_id": "evt_1"}
    # charges belong to no agency: a treasurer's scope does not show them
    assert found(db, scope=FinanceScope(frozenset({world.agency.id}))).open == []


def test_held_card_payment(db, world, orders):
    order = orders.received()
    owed = payments.outstanding(db, order)
    held = seed_payment(db, order, owed, rail=PaymentRail.CARD, stripe_session_id="cs_held")
    held.status = PaymentStatus.HELD
    held.failure_reason = "charged after the orders were paid another way"
    seed_payment(db, orders.received(), 1_000, rail=PaymentRail.CARD)  # succeeded: fine
    db.flush()
    [item] = found(db).open
    assert (item.kind, item.subject, item.amount, item.agency_id) == (
        "held_card_payment",
        f"payment:{held.id}",
        owed,
        world.agency.id,
    )
    assert "paid another way" in str(item.message)
    assert [(e.endpoint, e.args) for e in item.evidence] == [
        ("payments.payment", {"payment_id": held.id})
    ]
    assert found(db, scope=FinanceScope(frozenset({world.other_agency.id}))).open == []


def test_card_refund_with_no_matching_refund(db, world, orders):
    order = orders.received()
    payment = seed_payment(
        db,
        order,
        payments.outstanding(db, order),
        rail=PaymentRail.CARD,
        stripe_session_id="cs_paid",
        stripe_payment_intent_id="pi_paid",
    )
    ours = Refund(
        payment_id=payment.id,
        order_id=order.id,
        amount=10_000,
        status=RefundStatus.PENDING,
        idempotency_key="eorder-refund-ours",
        stripe_refund_id="re_ours",
    )
    lost_answer = Refund(
        payment_id=payment.id,
        order_id=order.id,
        amount=5_000,
        status=RefundStatus.PENDING,
        idempotency_key="eorder-refund-lost",
    )
    db.add_all([ours, lost_answer])
    db.flush()
    refund = {"object": "refund", "currency": "idr", "charge": "ch_paid"}
    refund |= {"payment_intent": "pi_paid", "status": "succeeded"}
    # ours, by its Stripe id; ours, by the id and key we sent; one made at Stripe alone,
    # first pending, then succeeded; one made at Stripe that failed
    stripe_event(db, "evt_r1", "refund.updated", {**refund, "id": "re_ours", "amount": 1_000_000})
    stripe_event(
        db,
        "evt_r2",
        "refund.created",
        {
            **refund,
            "id": "re_lost",
            "amount": 500_000,
            "metadata": {"refund_id": str(lost_answer.id), "refund_key": "eorder-refund-lost"},
        },
    )
    stripe_event(db, "evt_r3", "refund.created", {**refund, "id": "re_stray", "status": "pending"})
    stripe_event(
        db, "evt_r4", "refund.updated", {**refund, "id": "re_stray", "amount": 700_000}, minute=1
    )
    stripe_event(
        db, "evt_r5", "refund.updated", {**refund, "id": "re_void", "status": "failed"}, minute=1
    )
    # the charge: ours (15.000) and the stray one (7.000) are known; 3.000 more is not
    stripe_event(
        db,
        "evt_c1",
        "charge.refunded",
        {"id": "ch_paid", "payment_intent": "pi_paid", "amount_refunded": 2_500_000},
        minute=2,
    )
    # a refund of a charge that is no payment here
    stripe_event(
        db,
        "evt_c2",
        "charge.refunded",
        {"id": "ch_else", "payment_intent": "pi_else", "amount_refunded": 400_000},
    )
    items = [i for i in found(db).open if i.kind == "unmatched_card_refund"]
    assert [(i.subject, i.amount, i.agency_id) for i in items] == [
        ("stripe:re_stray", 7_000, world.agency.id),
        ("stripe:ch_else", 4_000, None),
        ("stripe:ch_paid", 3_000, world.agency.id),
    ]
    assert items[0].evidence[0].args == {"event_id": "evt_r4"}
    assert items[0].evidence[1].args == {"payment_id": payment.id}
    assert [e.args for e in items[1].evidence] == [{"event_id": "evt_c2"}]
    # a treasurer sees their agency's, never one of no agency
    mine = found(db, scope=FinanceScope(frozenset({world.agency.id}))).open
    assert [i.subject for i in mine if i.kind == "unmatched_card_refund"] == [
        "stripe:re_stray",
        "stripe:ch_paid",
    ]


def test_duplicate_payment(db, world, orders):
    order = orders.paid()
    net = payments.net_payable(db, order)
    seed_payment(db, order, net, reference="SP2D-DUP")
    result = found(db)
    [item] = [i for i in result.open if i.kind == "duplicate_payment"]
    assert (item.subject, item.amount, item.expected, item.actual) == (
        f"order:{order.id}",
        net,
        net,
        2 * net,
    )


def test_a_partial_payment_and_its_remainder_are_not_a_duplicate(db, world, orders):
    order = orders.received()
    owed = payments.outstanding(db, order)
    pay(db, world, order, amount=100_000, partial_reason="Dana bertahap")
    pay(db, world, order)
    db.refresh(order)
    assert order.status is OrderStatus.PAID
    assert payments.amount_paid(db, order.id) == owed
    assert found(db).open == []


def test_refund_not_reflected_in_the_budget(db, world, orders):
    order = orders.paid()
    payment = payments.payments_of_order(db, order.id)[0]
    # recorded through the service: its ledger row is there
    payments.request_refund(db, world.treasurer, payment, order, 10_000, "Kurang", reference="R1")
    # written straight to the table, skipping the ledger
    stray = Refund(
        payment_id=payment.id,
        order_id=order.id,
        amount=15_000,
        reason="Impor",
        status=RefundStatus.SUCCEEDED,
        refunded_on=payments.jakarta_today(),
    )
    db.add(stray)
    db.flush()
    items = [i for i in found(db).open if i.kind == "refund_not_in_budget"]
    assert [(i.subject, i.amount) for i in items] == [(f"refund:{stray.id}", 15_000)]
    assert "budgets.line" in [e.endpoint for e in items[0].evidence]
    # a matching ledger row (same order and amount) settles it
    ledger.refund(db, world.line, 15_000, actor=None, order_id=order.id)
    assert [i for i in found(db).open if i.kind == "refund_not_in_budget"] == []


def test_treasurer_scope_sees_only_their_agency(db, world, orders):
    mine = orders.received(days_ago=20)
    theirs = orders.received(other_agency=True, days_ago=20)
    everywhere = kinds_and_subjects(found(db))
    assert everywhere == {
        ("unpaid_past_due", f"order:{mine.id}"),
        ("unpaid_past_due", f"order:{theirs.id}"),
    }
    own = found(db, scope=FinanceScope(frozenset({world.agency.id})))
    assert kinds_and_subjects(own) == {("unpaid_past_due", f"order:{mine.id}")}


def test_finance_explains_an_exception(db, world, orders):
    order = orders.received(days_ago=20)
    today = payments.jakarta_today()
    explanation = exceptions.explain(
        db,
        world.finance,
        "unpaid_past_due",
        f"order:{order.id}",
        "  SP2D menunggu tanda tangan BUD.  ",
        today=today,
        payment_due_days=DUE_DAYS,
    )
    assert explanation.note == "SP2D menunggu tanda tangan BUD."
    result = found(db)
    assert result.open == []
    [item] = result.explained
    assert item.explanation.note == "SP2D menunggu tanda tangan BUD."
    assert item.explanation.explained_by_id == world.finance.id
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "finance.explain")).one()
    assert event.actor_id == world.finance.id
    assert event.after["subject"] == f"order:{order.id}"
    assert event.agency_id == world.agency.id
    with pytest.raises(Conflict):
        exceptions.explain(
            db,
            world.finance,
            "unpaid_past_due",
            f"order:{order.id}",
            "lagi",
            today=today,
            payment_due_days=DUE_DAYS,
        )


@pytest.mark.parametrize("who", ["auditor", "treasurer", "curator"])
def test_only_finance_explains(db, world, orders, who):
    order = orders.received(days_ago=20)
    with pytest.raises(PermissionDenied):
        exceptions.explain(
            db,
            getattr(world, who),
            "unpaid_past_due",
            f"order:{order.id}",
            "ok",
            today=payments.jakarta_today(),
            payment_due_days=DUE_DAYS,
        )
    assert db.scalar(select(ExplainedException.id)) is None


def test_explaining_needs_a_note_and_a_real_exception(db, world, orders):
    order = orders.received(days_ago=20)
    today = payments.jakarta_today()
    with pytest.raises(DomainError) as error:
        exceptions.explain(
            db,
            world.finance,
            "unpaid_past_due",
            f"order:{order.id}",
            "   ",
            today=today,
            payment_due_days=DUE_DAYS,
        )
    assert error.value.field == "note"
    for kind, subject in [
        ("unpaid_past_due", "order:999999"),
        ("no_such_kind", f"order:{order.id}"),
    ]:
        with pytest.raises(NotFound):
            exceptions.explain(
                db, world.finance, kind, subject, "catatan", today=today, payment_due_days=DUE_DAYS
            )

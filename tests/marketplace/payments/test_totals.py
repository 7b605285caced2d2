"""The per-order payment totals finance reads (on the order rows) stay equal to the sums of
the payment, allocation and refund rows through every way money moves: transfers in full
and in part, card payments (succeeded, failed, held), transfer and card refunds (succeeded,
failed), and Stripe's events delivered again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from marketplace.ordering.models import Order, ReceivedByCategory
from marketplace.payments import card as card_rail
from marketplace.payments import services
from marketplace.payments.models import (
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from marketplace.payments.stripe_gateway import StripeClientGateway
from marketplace.payments.totals import rebuild_totals

NOTHING = (0, 0, 0, 0, None)


def totals(db) -> dict[int, tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """The totals kept on the order rows, of every order."""
    rows = db.execute(
        select(
            Order.id,
            Order.paid_total,
            Order.refunded_total,
            Order.payment_count,
            Order.full_payment_count,
            Order.last_paid_on,
        )
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def sums_of_rows(db) -> dict[int, tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """The same figures, added up in Python from the rows."""
    db.expire_all()
    found: dict[int, list[Any]] = {}
    for payment in db.scalars(select(Payment).where(Payment.status == PaymentStatus.SUCCEEDED)):
        for allocation in payment.allocations:
            row = found.setdefault(allocation.order_id, [0, 0, 0, 0, None])
            row[0] += allocation.amount
            row[2] += 1
            row[3] += 0 if payment.partial_reason else 1
            if row[4] is None or payment.paid_on > row[4]:
                row[4] = payment.paid_on
    for refund in db.scalars(select(Refund).where(Refund.status == RefundStatus.SUCCEEDED)):
        if refund.payment.status is PaymentStatus.SUCCEEDED:  # not a held charge's refund
            found.setdefault(refund.order_id, [0, 0, 0, 0, None])[1] += refund.amount
    return {order_id: tuple(row) for order_id, row in found.items()}


def check(db) -> dict[int, tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """Every order's kept totals equal its rows' (nothing, for an order without any)."""
    kept = totals(db)
    rows = sums_of_rows(db)
    assert kept == {order_id: rows.get(order_id, NOTHING) for order_id in kept}
    return kept


def transfer(db, world, order, amount=None, partial_reason=""):  # type: ignore[no-untyped-def]
    return services.record_transfer(
        db,
        world.treasurer,
        [order],
        services.TransferDetails(
            reference=f"SP2D-{order.id}-{amount}",
            paid_on=services.jakarta_today(),
            amount=amount if amount is not None else services.outstanding(db, order),
            payer_account="RKUD",
            partial_reason=partial_reason,
        ),
    )


def test_totals_equal_the_rows_through_every_payment_and_refund(db, world, card):
    gateway = StripeClientGateway(card.stripe.api_key, api_base=card.stripe.url, timeout=1)
    # a partial transfer, then the rest by card
    partly = world.order_in(db, "received", quantity=10)
    owed = services.outstanding(db, partly)
    transfer(db, world, partly, 100_000, "Dana bertahap")
    assert check(db)[partly.id][:4] == (100_000, 0, 1, 0)
    card.pay(partly)
    first_card = card.last_payment()
    # pending: nothing paid yet
    assert check(db)[partly.id][:4] == (100_000, 0, 1, 0)
    completed = card.stripe.complete(first_card.stripe_session_id)
    assert check(db)[partly.id][:4] == (owed, 0, 2, 1)
    # Stripe sends its events again: nothing is added twice
    card.stripe.deliver(*completed, times=2)
    assert check(db)[partly.id][:4] == (owed, 0, 2, 1)

    # paid by card, refunded in part through Stripe; a refund Stripe refuses adds nothing
    refunded = world.order_in(db, "received", quantity=10)
    card.pay(refunded)
    second_card = card.last_payment()
    card.stripe.complete(second_card.stripe_session_id)
    db.refresh(second_card)
    refund = card_rail.request_card_refund(
        db, world.treasurer, second_card, refunded, 50_000, "Late delivery"
    )
    db.commit()
    card_rail.send_card_refund(db, refund, gateway)
    db.commit()
    assert check(db)[refunded.id][1] == 0  # pending until Stripe confirms it
    card.stripe.succeed_refund(refund.stripe_refund_id)
    assert check(db)[refunded.id][1] == 50_000
    card.stripe.deliver(*card.stripe.events_of("refund.updated"), times=2)
    refused = card_rail.request_card_refund(
        db, world.treasurer, second_card, refunded, 20_000, "Again"
    )
    db.commit()
    card_rail.send_card_refund(db, refused, gateway)
    db.commit()
    card.stripe.fail_refund(refused.stripe_refund_id)
    assert check(db)[refunded.id][:4] == (second_card.amount, 50_000, 1, 1)

    # paid by transfer, the vendor transfers some back
    returned = world.order_in(db, "received", quantity=10)
    payment = transfer(db, world, returned)
    services.request_refund(db, world.treasurer, payment, returned, 10_000, "Kurang", reference="R")
    assert check(db)[returned.id][:4] == (payment.amount, 10_000, 1, 1)

    # a card attempt that failed, the order paid by transfer, then the late charge is held
    # and refunded: the held charge paid nothing, and its refund gave nothing back
    late = world.order_in(db, "received", quantity=10)
    card.pay(late)
    held = card.last_payment()
    card.stripe.fail(held.stripe_session_id)
    card.stripe.expire(held.stripe_session_id)
    assert check(db)[late.id] == NOTHING
    by_transfer = transfer(db, world, late)
    db.commit()
    card.stripe.sessions[held.stripe_session_id]["status"] = "open"
    card.stripe.complete(held.stripe_session_id)
    db.expire_all()
    assert held.status is PaymentStatus.HELD
    assert check(db)[late.id][:4] == (by_transfer.amount, 0, 1, 1)
    back = card_rail.request_card_refund(db, world.treasurer, held, late, held.amount, "Held")
    db.commit()
    card_rail.send_card_refund(db, back, gateway)
    db.commit()
    card.stripe.succeed_refund(back.stripe_refund_id)
    # the held charge's refund gave back money the vendor never had: nothing refunded
    assert check(db)[late.id][:4] == (by_transfer.amount, 0, 1, 1)

    # recomputing everything from the rows gives the rows kept all along
    kept = check(db)
    rebuild_totals(db)
    assert totals(db) == kept


def test_a_batch_transfer_adds_to_each_order_it_covers(db, world):
    first = world.order_in(db, "received", quantity=10)
    second = world.order_in(db, "received", quantity=4)
    owed = {o.id: services.outstanding(db, o) for o in (first, second)}
    payment = services.record_transfer(
        db,
        world.treasurer,
        [first, second],
        services.TransferDetails(
            reference="SP2D-BATCH-1",
            paid_on=services.jakarta_today(),
            amount=sum(owed.values()),
            payer_account="RKUD",
        ),
    )
    kept = check(db)
    assert {o.id: kept[o.id][:4] for o in (first, second)} == {
        order_id: (amount, 0, 1, 1) for order_id, amount in owed.items()
    }
    assert kept[first.id][4] == kept[second.id][4] == payment.paid_on
    # the session's copies of the orders read the figures afresh
    assert (first.paid_total, second.paid_total) == (owed[first.id], owed[second.id])


def test_rebuild_totals_after_rows_written_without_the_services(app, db, world):
    order = world.order_in(db, "received", quantity=10)
    payment = transfer(db, world, order, 100_000, "Dana bertahap")
    # an import adds a refund row by hand: the totals do not know it yet
    db.add(
        Refund(
            payment_id=payment.id,
            order_id=order.id,
            amount=5_000,
            reason="Impor",
            status=RefundStatus.SUCCEEDED,
        )
    )
    # ... and the order's invoice amounts and per-category receipt are lost (a node on the
    # previous release received it)
    spent = db.scalars(
        select(ReceivedByCategory.amount).where(ReceivedByCategory.order_id == order.id)
    ).all()
    assert sum(spent) == order.received_total
    invoiced = (order.invoice_gross, order.net_payable)
    db.execute(
        update(Order).where(Order.id == order.id).values(invoice_gross=None, net_payable=None)
    )
    db.execute(delete(ReceivedByCategory).where(ReceivedByCategory.order_id == order.id))
    db.commit()
    assert totals(db)[order.id][:2] == (100_000, 0)
    db.commit()  # (a read begins a transaction that, on SQLite, holds the write lock)

    result = app.test_cli_runner().invoke(args=["payments", "rebuild-totals"])

    assert result.exit_code == 0, result.output
    assert "1 order(s) with payments or refunds" in result.output
    db.expire_all()
    assert check(db)[order.id][:4] == (100_000, 5_000, 1, 0)
    order = db.get(Order, order.id)
    assert (order.invoice_gross, order.net_payable) == invoiced
    assert (
        db.scalars(
            select(ReceivedByCategory.amount).where(ReceivedByCategory.order_id == order.id)
        ).all()
        == spent
    )

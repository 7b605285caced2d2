"""Per-order payment totals, on the order row (`paid_total`, `refunded_total`,
`payment_count`, `full_payment_count`, `last_paid_on`): kept in the transaction that makes
a payment or a refund succeed, and recomputed from the rows when data came in another way,
together with the current invoice's amounts (`invoice_gross`, `net_payable`) and each
received order's amounts per category (`received_by_category`).

A payment reaches SUCCEEDED once (`settle_payment`) and never leaves it; a refund reaches
SUCCEEDED once (`settle_refund`) and never leaves it. So the totals only ever grow, each by
one `UPDATE orders SET paid_total = paid_total + :paid ...` that adds in the database
(never a value read earlier in Python): two transactions adding to one order at once both
count, on PostgreSQL (the second waits for the first's row lock, then adds to what it
committed) and on SQLite (writers are serialised). That the same success is not added twice
rests on the status change being made once, under the payment's or the order's row lock, as
the services already do. A payment's status never changes once SUCCEEDED or HELD, so whether a
refund gave money back (a refund of a held card charge did not) is known when it succeeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    case,
    cast,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from catalog.models import Product
from marketplace.documents.services import current_invoices
from marketplace.ordering.models import Order, OrderLine, ReceivedByCategory
from marketplace.ordering.states import OrderStatus
from marketplace.payments.models import (
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Refund,
    RefundStatus,
)

#: the order's figures this module keeps
FIGURES = ("paid_total", "refunded_total", "payment_count", "full_payment_count", "last_paid_on")


def _add(
    session: Session,
    order_id: int,
    *,
    paid: int = 0,
    refunded: int = 0,
    payments: int = 0,
    full_payments: int = 0,
    last_paid_on: date | None = None,
) -> None:
    """Add to one order's totals in the database; the ORM's copy of the order, when this
    session holds it, has those figures expired, so that a later read loads them afresh."""
    values: dict[str, Any] = {
        "paid_total": Order.paid_total + paid,
        "refunded_total": Order.refunded_total + refunded,
        "payment_count": Order.payment_count + payments,
        "full_payment_count": Order.full_payment_count + full_payments,
    }
    if last_paid_on is not None:
        values["last_paid_on"] = case(
            (Order.last_paid_on.is_(None), last_paid_on),
            (Order.last_paid_on < last_paid_on, last_paid_on),
            else_=Order.last_paid_on,
        )
    session.execute(
        update(Order).where(Order.id == order_id).values(values),
        execution_options={"synchronize_session": False},
    )
    held = session.identity_map.get(session.identity_key(Order, order_id))
    if held is not None:
        session.expire(held, list(FIGURES))


def add_succeeded_payment(session: Session, payment: Payment) -> None:
    """The payment just succeeded: each order it covers gains its allocation."""
    in_full = 0 if (payment.partial_reason or "") else 1
    # one statement per order, in order id order (as the orders are locked): a batch
    # payment's rows never wait on each other in a different order in two transactions
    for allocation in sorted(payment.allocations, key=lambda a: a.order_id):
        _add(
            session,
            allocation.order_id,
            paid=allocation.amount,
            payments=1,
            full_payments=in_full,
            last_paid_on=payment.paid_on,
        )


def add_succeeded_refund(session: Session, refund: Refund) -> None:
    """The refund just succeeded: its order's refunded total grows by it, unless it gave
    back a held card charge, which paid the vendor nothing (as `services.amount_paid` and
    the budget ledger see it)."""
    if refund.payment.status is PaymentStatus.SUCCEEDED:
        _add(session, refund.order_id, refunded=refund.amount)


def totals_from_rows(order_ids: Iterable[int] | None = None) -> Any:
    """The totals as the payment, allocation and refund rows give them, per order (a select
    of order_id, paid, refunded, payments, full_payments, last_paid_on)."""
    ids = None if order_ids is None else sorted(set(order_ids))
    in_full = case((func.coalesce(func.length(Payment.partial_reason), 0) == 0, 1), else_=0)
    allocations = (
        select(
            PaymentAllocation.order_id.label("order_id"),
            PaymentAllocation.amount.label("paid"),
            literal_column("0").label("refunded"),
            literal_column("1").label("payments"),
            in_full.label("full_payments"),
            Payment.paid_on.label("paid_on"),
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.status == PaymentStatus.SUCCEEDED)
    )
    refunds = (
        select(
            Refund.order_id.label("order_id"),
            literal_column("0").label("paid"),
            Refund.amount.label("refunded"),
            literal_column("0").label("payments"),
            literal_column("0").label("full_payments"),
            cast(null(), Date).label("paid_on"),
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Refund.status == RefundStatus.SUCCEEDED,
            # a held card charge's refund paid nothing back
            Payment.status == PaymentStatus.SUCCEEDED,
        )
    )
    if ids is not None:
        allocations = allocations.where(PaymentAllocation.order_id.in_(ids))
        refunds = refunds.where(Refund.order_id.in_(ids))
    moves = union_all(allocations, refunds).subquery("moves")
    return select(
        moves.c.order_id,
        func.sum(moves.c.paid).label("paid"),
        func.sum(moves.c.refunded).label("refunded"),
        func.sum(moves.c.payments).label("payments"),
        func.sum(moves.c.full_payments).label("full_payments"),
        func.max(moves.c.paid_on).label("last_paid_on"),
    ).group_by(moves.c.order_id)


def rebuild_totals(session: Session, order_ids: Iterable[int] | None = None) -> None:
    """Recompute the payment totals and current invoice amounts of some orders (or all) from
    the payments, refunds and issued documents, and fill in the per-category received
    amounts the received orders lack: after rows were written to those tables without the
    services (an import, a repair by hand), and once every node runs this release after an
    upgrade. On PostgreSQL the orders take no writes until it commits."""
    ids = None if order_ids is None else sorted(set(order_ids))
    if session.get_bind().dialect.name == "postgresql":
        # wait for the transactions adding to the totals, and keep new ones out until this
        # one commits: each statement below then sees every payment they recorded
        session.execute(text("LOCK TABLE orders IN EXCLUSIVE MODE"))
    of_orders = [] if ids is None else [Order.id.in_(ids)]
    # Only orders whose figures differ are written: after an upgrade or an import, a few.
    computed = totals_from_rows(ids).subquery("computed")
    _copy_where_different(
        session,
        computed,
        paid_total=computed.c.paid,
        refunded_total=computed.c.refunded,
        payment_count=computed.c.payments,
        full_payment_count=computed.c.full_payments,
        last_paid_on=computed.c.last_paid_on,
    )
    # orders with figures but no payment or refund (any more) go back to zero
    _clear_where_absent(
        session,
        computed,
        of_orders,
        paid_total=0,
        refunded_total=0,
        payment_count=0,
        full_payment_count=0,
        last_paid_on=None,
    )
    invoices = current_invoices(ids)
    _copy_where_different(
        session, invoices, invoice_gross=invoices.c.gross, net_payable=invoices.c.net_payable
    )
    _clear_where_absent(session, invoices, of_orders, invoice_gross=None, net_payable=None)
    _fill_received_by_category(session, of_orders)
    session.expire_all()


def _copy_where_different(session: Session, source: Any, **values: Any) -> None:
    """Set the orders' columns named in `values` from the rows of `source` (one per
    order_id), on the orders where any of them differs."""
    differs = [getattr(Order, name).is_distinct_from(value) for name, value in values.items()]
    session.execute(
        update(Order).where(Order.id == source.c.order_id, or_(*differs)).values(values),
        execution_options={"synchronize_session": False},
    )


def _clear_where_absent(session: Session, source: Any, of_orders: list[Any], **values: Any) -> None:
    """Set the orders' columns named in `values` to those values (zero or NULL), on the
    orders of `of_orders` that have no row in `source` and not those values already."""
    differs = [getattr(Order, name).is_distinct_from(value) for name, value in values.items()]
    session.execute(
        update(Order)
        .where(*of_orders, or_(*differs), Order.id.not_in(select(source.c.order_id)))
        .values(values),
        execution_options={"synchronize_session": False},
    )


def _fill_received_by_category(session: Session, of_orders: list[Any]) -> None:
    """The per-category amounts of received orders that have none (received by a node still
    on the previous release, or imported), from their received lines and their products'
    categories now. Orders that have them keep them: they hold each product's category when
    the delivery was received."""
    received = select(Order.id).where(
        Order.status.in_([OrderStatus.RECEIVED, OrderStatus.PAID, OrderStatus.RECONCILED]),
        Order.received_at.is_not(None),
        ~select(ReceivedByCategory.order_id)
        .where(ReceivedByCategory.order_id == Order.id)
        .exists(),
        *of_orders,
    )
    session.execute(
        insert(ReceivedByCategory).from_select(
            ["order_id", "category_id", "agency_id", "received_at", "amount"],
            select(
                Order.id,
                Product.category_id,
                Order.agency_id,
                Order.received_at,
                func.sum(OrderLine.unit_price * OrderLine.quantity_received),
            )
            .join(OrderLine, OrderLine.order_id == Order.id)
            .join(Product, Product.id == OrderLine.product_id)
            .where(Order.id.in_(received), OrderLine.quantity_received > 0)
            .group_by(Order.id, Product.category_id, Order.agency_id, Order.received_at),
        )
    )

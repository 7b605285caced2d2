"""Per-order payment totals (`order_payment_totals`): kept in the transaction that makes a
payment or a refund succeed, and recomputed from the rows when data came in another way.

A payment reaches SUCCEEDED once (`settle_payment`) and never leaves it; a refund reaches
SUCCEEDED once (`settle_refund`) and never leaves it. So the totals only ever grow, each by
one `INSERT ... ON CONFLICT (order_id) DO UPDATE` that adds to the row in the database
(never a value read earlier in Python): two transactions adding to one order at once both
count, on PostgreSQL (the conflict waits for the other's row) and on SQLite (writers are
serialised). That the same success is not added twice rests on the status change being
made once, under the payment's or the order's row lock, as the services already do.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    Date,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from marketplace.payments.models import (
    OrderPaymentTotals,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Refund,
    RefundStatus,
)

_totals = OrderPaymentTotals.__table__


def _add(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add each row's amounts to its order's totals, creating the row when it is the first."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    make_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = make_insert(_totals)
    new = statement.excluded
    current = _totals.c.last_paid_on
    statement = statement.on_conflict_do_update(
        index_elements=[_totals.c.order_id],
        set_={
            "paid": _totals.c.paid + new.paid,
            "refunded": _totals.c.refunded + new.refunded,
            "payments": _totals.c.payments + new.payments,
            "full_payments": _totals.c.full_payments + new.full_payments,
            "last_paid_on": case(
                (new.last_paid_on.is_(None), current),
                (current.is_(None), new.last_paid_on),
                (new.last_paid_on > current, new.last_paid_on),
                else_=current,
            ),
        },
    )
    # one statement per order, in order id order (as the orders are locked): a batch
    # payment's rows never wait on each other in a different order in two transactions
    for row in sorted(rows, key=lambda r: r["order_id"]):
        session.execute(statement, row)


def _row(
    order_id: int,
    *,
    paid: int = 0,
    refunded: int = 0,
    payments: int = 0,
    full_payments: int = 0,
    last_paid_on: date | None = None,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "paid": paid,
        "refunded": refunded,
        "payments": payments,
        "full_payments": full_payments,
        "last_paid_on": last_paid_on,
    }


def add_succeeded_payment(session: Session, payment: Payment) -> None:
    """The payment just succeeded: each order it covers gains its allocation."""
    in_full = 0 if (payment.partial_reason or "") else 1
    _add(
        session,
        [
            _row(
                allocation.order_id,
                paid=allocation.amount,
                payments=1,
                full_payments=in_full,
                last_paid_on=payment.paid_on,
            )
            for allocation in payment.allocations
        ],
    )


def add_succeeded_refund(session: Session, refund: Refund) -> None:
    """The refund just succeeded: its order's refunded total grows by it."""
    _add(session, [_row(refund.order_id, refunded=refund.amount)])


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
    refunds = select(
        Refund.order_id.label("order_id"),
        literal_column("0").label("paid"),
        Refund.amount.label("refunded"),
        literal_column("0").label("payments"),
        literal_column("0").label("full_payments"),
        cast(null(), Date).label("paid_on"),
    ).where(Refund.status == RefundStatus.SUCCEEDED)
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
    """Recompute the totals of some orders (or all) from the rows: after payments or refunds
    were written to the tables without the services (an import, a repair by hand)."""
    ids = None if order_ids is None else sorted(set(order_ids))
    if session.get_bind().dialect.name == "postgresql":
        # wait for the transactions adding to the totals, and keep new ones out until this
        # one commits: each statement below then sees every payment they recorded
        session.execute(text("LOCK TABLE order_payment_totals IN EXCLUSIVE MODE"))
    wipe = delete(_totals)
    if ids is not None:
        wipe = wipe.where(_totals.c.order_id.in_(ids))
    session.execute(wipe)
    computed = totals_from_rows(ids)
    session.execute(
        insert(_totals).from_select(
            ["order_id", "paid", "refunded", "payments", "full_payments", "last_paid_on"],
            computed,
        )
    )

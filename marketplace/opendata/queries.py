"""The page of completed orders the OCDS feed publishes, loaded in a fixed number of queries.

A release's date is the last time anything published about its order changed: receipt,
payment, refund, reconciliation, or a document (or a corrected version of one). The feed is
filtered and ordered by that date, so that a harvester asking for `since=<its last visit>`
gets every order that changed since.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload

from catalog.models import Product
from marketplace.documents.models import DocumentKind, IssuedDocument
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import OrderStatus
from marketplace.payments.models import (
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Refund,
    RefundStatus,
)

#: Received is when the contract was fulfilled (BAST signed); paid and reconciled come later.
COMPLETED_STATUSES = (OrderStatus.RECEIVED, OrderStatus.PAID, OrderStatus.RECONCILED)
PAGE_SIZE = 100


@dataclass(frozen=True)
class DocumentFacts:
    kind: DocumentKind
    number: str
    first_issued_at: datetime
    last_issued_at: datetime
    versions: int


@dataclass(frozen=True)
class MoneyMovement:
    """A succeeded payment's share of one order (to the vendor) or a refund (from it)."""

    id: str
    amount: int
    on: date | None
    refund: bool


@dataclass
class PublishedOrder:
    order: Order
    release_date: datetime
    documents: list[DocumentFacts] = field(default_factory=list)
    movements: list[MoneyMovement] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    items: list[PublishedOrder]
    number: int
    has_next: bool


def _release_dates():  # type: ignore[no-untyped-def]
    """order_id -> the last moment anything published about the order changed."""
    completed = Order.status.in_(COMPLETED_STATUSES)
    moments = union_all(
        select(Order.id.label("order_id"), Order.received_at.label("moment")).where(completed),
        select(Order.id, Order.paid_at).where(completed, Order.paid_at.is_not(None)),
        select(Order.id, Order.reconciled_at).where(completed, Order.reconciled_at.is_not(None)),
        select(PaymentAllocation.order_id, Payment.succeeded_at)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.status == PaymentStatus.SUCCEEDED, Payment.succeeded_at.is_not(None)),
        select(Refund.order_id, Refund.succeeded_at).where(
            Refund.status == RefundStatus.SUCCEEDED, Refund.succeeded_at.is_not(None)
        ),
        select(IssuedDocument.order_id, IssuedDocument.issued_at),
    ).subquery("moments")
    return (
        select(moments.c.order_id, func.max(moments.c.moment).label("release_date"))
        .group_by(moments.c.order_id)
        .subquery("release_dates")
    )


def completed_orders_page(
    session: Session,
    *,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page:
    """One page of completed orders whose release date falls in [since, until] (Jakarta
    days, both inclusive), oldest first, with everything the releases show.

    Five queries whatever the page holds: the orders with agency and vendor, their lines
    with product and category, their documents, their payments, their refunds.
    """
    dates = _release_dates()
    query = (
        select(Order, dates.c.release_date)
        .join(dates, dates.c.order_id == Order.id)
        .where(Order.status.in_(COMPLETED_STATUSES))
        .order_by(dates.c.release_date, Order.id)
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
        .options(
            joinedload(Order.agency),
            joinedload(Order.vendor),
            selectinload(Order.lines)
            .joinedload(OrderLine.product)
            .options(joinedload(Product.category), lazyload(Product.photos)),
        )
    )
    if since is not None:
        query = query.where(dates.c.release_date >= datetime.combine(since, time(0), JAKARTA))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time(0), JAKARTA)
        # every moment is at or after receipt, so this prunes without changing the result
        query = query.where(dates.c.release_date < end, Order.received_at < end)
    rows = session.execute(query).all()
    items = [PublishedOrder(order, release_date) for order, release_date in rows[:page_size]]
    _attach_documents_and_money(session, items)
    return Page(items=items, number=page, has_next=len(rows) > page_size)


def _attach_documents_and_money(session: Session, items: Sequence[PublishedOrder]) -> None:
    by_id = {item.order.id: item for item in items}
    if not by_id:
        return
    ids = list(by_id)
    versions: dict[tuple[int, DocumentKind, str], list[tuple[int, datetime]]] = defaultdict(list)
    # Columns, not entities: the stored content names the signatories and is never read here.
    for order_id, kind, number, version, issued_at in session.execute(
        select(
            IssuedDocument.order_id,
            IssuedDocument.kind,
            IssuedDocument.number,
            IssuedDocument.version,
            IssuedDocument.issued_at,
        )
        .where(IssuedDocument.order_id.in_(ids))
        .order_by(IssuedDocument.order_id, IssuedDocument.kind, IssuedDocument.version)
    ):
        versions[(order_id, kind, number)].append((version, issued_at))
    for (order_id, kind, number), issued in versions.items():
        by_id[order_id].documents.append(
            DocumentFacts(
                kind=kind,
                number=number,
                first_issued_at=issued[0][1],
                last_issued_at=issued[-1][1],
                versions=len(issued),
            )
        )
    for order_id, payment_id, amount, paid_on in session.execute(
        select(PaymentAllocation.order_id, Payment.id, PaymentAllocation.amount, Payment.paid_on)
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.order_id.in_(ids), Payment.status == PaymentStatus.SUCCEEDED)
        .order_by(Payment.paid_on, Payment.id)
    ):
        by_id[order_id].movements.append(
            MoneyMovement(id=f"payment-{payment_id}", amount=amount, on=paid_on, refund=False)
        )
    for order_id, refund_id, amount, refunded_on in session.execute(
        select(Refund.order_id, Refund.id, Refund.amount, Refund.refunded_on)
        .where(Refund.order_id.in_(ids), Refund.status == RefundStatus.SUCCEEDED)
        .order_by(Refund.refunded_on, Refund.id)
    ):
        by_id[order_id].movements.append(
            MoneyMovement(id=f"refund-{refund_id}", amount=amount, on=refunded_on, refund=True)
        )
    for item in items:
        item.movements.sort(key=lambda m: (m.on or date.max, m.refund))

"""Closing accounting months. Once finance closes a month nothing dated in it changes:
the payment services refuse such dates and date late entries in the next open month. This
module closes months, lists them, and shows the corrections that arrived after a close."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.finance.queries import FinanceScope, Period
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.payments.models import (
    ClosedPeriod,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from marketplace.payments.services import lock_period
from marketplace.permissions import has_permission


def can_close_periods(user: User) -> bool:
    return has_permission(user, "period:close")


def closed_periods(session: Session) -> list[ClosedPeriod]:
    return list(
        session.scalars(
            select(ClosedPeriod).order_by(ClosedPeriod.year.desc(), ClosedPeriod.month.desc())
        )
    )


def closable_months(session: Session, today: date, *, back: int = 12) -> list[Period]:
    """The last `back` months before this one that are still open, newest first."""
    closed = {(p.year, p.month) for p in closed_periods(session)}
    months = []
    year, month = today.year, today.month
    for _ in range(back):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        if (year, month) not in closed:
            months.append(Period(year, month))
    return months


def close_month(
    session: Session, actor: User, year: int, month: int, *, today: date
) -> ClosedPeriod:
    """Finance closes a month that is over. Closing is for good: there is no reopening."""
    if not can_close_periods(actor):
        raise PermissionDenied(_l("Only finance staff can close a period."))
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise DomainError(_l("Choose a month."), field="month")
    if (year, month) >= (today.year, today.month):
        raise DomainError(
            _l("Only a month that is over can be closed."),
            field="month",
        )
    lock_period(session, year, month)
    if session.get(ClosedPeriod, (year, month)) is not None:
        raise Conflict(
            _l("%(month)s is already closed.", month=f"{month:02d}/{year}"), field="month"
        )
    closed = ClosedPeriod(year=year, month=month, closed_by_id=actor.id)
    session.add(closed)
    session.flush()
    record_event(
        session,
        actor,
        "period.close",
        "closed_period",
        year * 100 + month,
        after={"year": year, "month": month},
    )
    return closed


@dataclass(frozen=True)
class Correction:
    """A money movement recorded after its month was closed, dated in an open month."""

    kind: str  # "payment" or "refund"
    id: int
    payment_id: int
    order_id: int
    order_reference: str
    agency_id: int
    amount: int
    #: the date it carries (in an open month)
    dated: date | None
    recorded_at: datetime | None


def _month_of(moment: datetime | date | None) -> tuple[int, int] | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        moment = moment.astimezone(JAKARTA).date()
    return moment.year, moment.month


def corrections_after_close(
    session: Session, scope: FinanceScope
) -> dict[tuple[int, int], list[Correction]]:
    """Per closed month: payments for orders received in it and refunds of payments dated
    in it, recorded after the month was closed (so dated in a later, open month)."""
    closed = {(p.year, p.month): p.closed_at for p in closed_periods(session)}
    result: dict[tuple[int, int], list[Correction]] = {key: [] for key in closed}
    if not closed:
        return result
    since = min(closed.values())
    payments = session.execute(
        select(Payment, PaymentAllocation, Order.number, Order.received_at)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .join(Order, Order.id == PaymentAllocation.order_id)
        .where(
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.succeeded_at > since,
            scope.covers(Payment.agency_id),
        )
        .order_by(Payment.succeeded_at, Payment.id)
    )
    for payment, allocation, number, received_at in payments:
        month = _month_of(received_at)
        if month in closed and payment.succeeded_at and payment.succeeded_at > closed[month]:
            result[month].append(
                Correction(
                    "payment",
                    payment.id,
                    payment.id,
                    allocation.order_id,
                    number or f"#{allocation.order_id}",
                    payment.agency_id,
                    allocation.amount,
                    payment.paid_on,
                    payment.succeeded_at,
                )
            )
    refunds = session.execute(
        select(Refund, Payment.paid_on, Payment.agency_id, Order.number)
        .join(Payment, Payment.id == Refund.payment_id)
        .join(Order, Order.id == Refund.order_id)
        .where(
            Refund.status == RefundStatus.SUCCEEDED,
            Refund.succeeded_at > since,
            scope.covers(Payment.agency_id),
        )
        .order_by(Refund.succeeded_at, Refund.id)
    )
    for refund, paid_on, agency_id, number in refunds:
        month = _month_of(paid_on)
        if month in closed and refund.succeeded_at and refund.succeeded_at > closed[month]:
            result[month].append(
                Correction(
                    "refund",
                    refund.id,
                    refund.payment_id,
                    refund.order_id,
                    number or f"#{refund.order_id}",
                    agency_id,
                    refund.amount,
                    refund.refunded_on,
                    refund.succeeded_at,
                )
            )
    return result

"""Spending reports for a year: per agency, vendor, category and month; the share that went
to micro and small businesses against the national 40% target; payment timeliness per
agency. Money is integer rupiah; shares are tenths of a percent (permille), also integers.

Spending is what was received (the orders' received totals, which the budget lines spent);
refunds after payment are reported beside it, not deducted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer, case, cast, func, select
from sqlalchemy.orm import Session

from catalog.models import BusinessScale, Category, Product, Vendor
from marketplace.accounts.models import Agency
from marketplace.finance.exception_kinds import unpaid_past_due
from marketplace.finance.queries import (
    RECEIVED,
    FinanceScope,
    Period,
    in_period,
    jakarta_day,
    payment_totals,
    permille,
    tenths,
)
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import OrderStatus
from marketplace.payments.models import Refund, RefundStatus

#: the national target for procurement spending that reaches micro and small businesses
SME_TARGET_PERMILLE = 400
SME_SCALES = (BusinessScale.MICRO, BusinessScale.SMALL)
TOP_VENDORS = 10


@dataclass
class Share:
    key: object
    label: str
    amount: int
    #: of the year's total, in tenths of a percent
    permille: int | None = None
    count: int = 0


@dataclass
class SpendingReport:
    year: int
    total: int
    orders: int
    refunded: int
    by_agency: list[Share]
    by_vendor: list[Share]
    #: the vendors beyond the top ten, together
    other_vendors: Share | None
    by_category: list[Share]
    by_month: list[Share]
    by_scale: list[Share]
    sme_amount: int
    sme_permille: int | None
    target_permille: int = SME_TARGET_PERMILLE

    @property
    def sme_meets_target(self) -> bool:
        return self.sme_permille is not None and self.sme_permille >= self.target_permille


@dataclass
class _Tally:
    label: str
    amount: int = 0
    count: int = 0


def _shares(tallies: dict[object, _Tally], total: int) -> list[Share]:
    shares = [
        Share(key, t.label, t.amount, permille(t.amount, total), t.count)
        for key, t in tallies.items()
    ]
    return sorted(shares, key=lambda s: (-s.amount, s.label))


def spending_report(
    session: Session, scope: FinanceScope, year: int, *, locale: str = "id"
) -> SpendingReport:
    """The year's spending of the scope (orders received in the year, Jakarta time)."""
    received = (
        Order.status.in_(RECEIVED),
        scope.covers(Order.agency_id),
        in_period(Period(year), Order.received_at),
    )
    # the Jakarta month of receipt, from the moments each month starts (no time zones in SQL)
    month = case(
        *((Order.received_at < Period(year, m).ends_at(), m) for m in range(1, 12)),
        else_=12,
    ).label("month")
    amount, count = func.coalesce(func.sum(Order.received_total), 0), func.count(Order.id)
    # Two groupings instead of one per (agency, vendor, month): the scale is the vendor's and
    # the month is in the vendor's rows, so no more than vendors x 12 rows come back, not one
    # per order or nearly (about 100,000 rows a year at provincial scale).
    vendor_months = session.execute(
        select(Order.vendor_id, Vendor.trading_name, Vendor.scale, month, amount, count)
        .join(Vendor, Vendor.id == Order.vendor_id)
        .where(*received)
        .group_by(Order.vendor_id, Vendor.trading_name, Vendor.scale, month)
    ).all()
    agency_rows = session.execute(
        select(Order.agency_id, Agency.name, amount, count)
        .join(Agency, Agency.id == Order.agency_id)
        .where(*received)
        .group_by(Order.agency_id, Agency.name)
    ).all()
    agencies: dict[object, _Tally] = {
        agency_id: _Tally(agency_name, int(value), int(orders_count))
        for agency_id, agency_name, value, orders_count in agency_rows
    }
    vendors: dict[object, _Tally] = {}
    scales: dict[object, _Tally] = {s: _Tally(str(s.label)) for s in BusinessScale}
    months: dict[object, _Tally] = {m: _Tally(str(m)) for m in range(1, 13)}
    total = orders = 0
    for vendor_id, vendor_name, scale, in_month, value, orders_count in vendor_months:
        for bucket, key, label in (
            (vendors, vendor_id, vendor_name),
            (scales, scale, ""),
            (months, int(in_month), ""),
        ):
            tally = bucket.setdefault(key, _Tally(label))
            tally.amount += int(value)
            tally.count += int(orders_count)
        total += int(value)
        orders += int(orders_count)
    by_vendor = _shares(vendors, total)
    others = by_vendor[TOP_VENDORS:]
    other_vendors = None
    if others:
        rest = sum(s.amount for s in others)
        other_vendors = Share(None, "", rest, permille(rest, total), len(others))
    sme_amount = sum(scales[s].amount for s in SME_SCALES)
    return SpendingReport(
        year=year,
        total=total,
        orders=orders,
        refunded=_refunded(session, received),
        by_agency=_shares(agencies, total),
        by_vendor=by_vendor[:TOP_VENDORS],
        other_vendors=other_vendors,
        by_category=_by_category(session, received, total, locale),
        by_month=[
            Share(m, t.label, t.amount, permille(t.amount, total), t.count)
            for m, t in months.items()
        ],
        by_scale=[
            Share(s, t.label, t.amount, permille(t.amount, total), t.count)
            for s, t in scales.items()
        ],
        sme_amount=sme_amount,
        sme_permille=permille(sme_amount, total),
    )


def _by_category(
    session: Session, received: tuple[Any, ...], total: int, locale: str
) -> list[Share]:
    """Received line amounts per category (they add up to the orders' received totals)."""
    amount = func.sum(OrderLine.unit_price * OrderLine.quantity_received)
    rows = session.execute(
        select(Category, amount, func.count(func.distinct(Order.id)))
        .join(Product, Product.category_id == Category.id)
        .join(OrderLine, OrderLine.product_id == Product.id)
        .join(Order, Order.id == OrderLine.order_id)
        .where(*received, OrderLine.quantity_received > 0)
        .group_by(Category.id)
    ).all()
    shares = [
        Share(category.id, category.name_for(locale), int(value), permille(int(value), total), n)
        for category, value, n in rows
    ]
    return sorted(shares, key=lambda s: (-s.amount, s.label))


def _refunded(session: Session, received: tuple[Any, ...]) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Refund.amount), 0))
            .join(Order, Order.id == Refund.order_id)
            .where(Refund.status == RefundStatus.SUCCEEDED, *received)
        )
        or 0
    )


# Payment timeliness ------------------------------------------------------------------


@dataclass
class Timeliness:
    agency_id: int | None
    agency_name: str
    #: orders received in the year and paid
    paid: int = 0
    #: days from receipt to payment, summed (for the average)
    days_total: int = 0
    within_due: int = 0
    #: received orders now past their due date and not fully paid
    overdue_open: int = 0

    @property
    def average_tenths(self) -> int | None:
        """Average days from receipt to payment, in tenths of a day."""
        return tenths(self.days_total, self.paid)

    @property
    def within_due_permille(self) -> int | None:
        return permille(self.within_due, self.paid)


#: Jakarta's offset from UTC: the same all year (no summer time since 1964)
JAKARTA_UTC_HOURS = int(JAKARTA.utcoffset(datetime(2026, 1, 1)).total_seconds()) // 3600


def _days_to_payment(dialect: str, paid_on: Any) -> Any:
    """Days from the Jakarta day of receipt to the payment's value date, in SQL."""
    if dialect == "postgresql":
        return paid_on - cast(func.timezone(JAKARTA.key, Order.received_at), Date)
    received_on = func.date(Order.received_at, f"+{JAKARTA_UTC_HOURS} hours")
    return cast(func.julianday(paid_on) - func.julianday(received_on), Integer)


def timeliness(
    session: Session,
    scope: FinanceScope,
    year: int,
    *,
    payment_due_days: int,
    today: date,
) -> tuple[list[Timeliness], Timeliness]:
    """Per agency: how many days after receipt the vendors were paid (the value date of the
    last payment that settled the order), and the share paid within the payment term."""
    paid = payment_totals()
    days = _days_to_payment(session.get_bind().dialect.name, paid.c.last_paid_on)
    rows = session.execute(
        select(
            Order.agency_id,
            Agency.name,
            func.count(Order.id),
            func.coalesce(func.sum(days), 0),
            func.coalesce(func.sum(case((days <= payment_due_days, 1), else_=0)), 0),
        )
        .join(Agency, Agency.id == Order.agency_id)
        .join(paid, paid.c.order_id == Order.id)
        .where(
            Order.status.in_([OrderStatus.PAID, OrderStatus.RECONCILED]),
            paid.c.payments > 0,
            scope.covers(Order.agency_id),
            in_period(Period(year), Order.received_at),
        )
        .group_by(Order.agency_id, Agency.name)
    )
    per_agency: dict[int, Timeliness] = {
        agency_id: Timeliness(agency_id, agency_name, int(count), int(total), int(within))
        for agency_id, agency_name, count, total, within in rows
    }
    for item in unpaid_past_due(session, scope, today=today, payment_due_days=payment_due_days):
        if item.agency_id is None:
            continue
        row = per_agency.setdefault(item.agency_id, Timeliness(item.agency_id, item.agency_name))
        row.overdue_open += 1
    result = sorted(per_agency.values(), key=lambda r: r.agency_name)
    total = Timeliness(None, "")
    for row in result:
        total.paid += row.paid
        total.days_total += row.days_total
        total.within_due += row.within_due
        total.overdue_open += row.overdue_open
    return result, total


def report_years(session: Session, scope: FinanceScope, this_year: int) -> list[int]:
    """Years with received orders, newest first, always including this one."""
    moments = session.execute(
        select(func.min(Order.received_at), func.max(Order.received_at)).where(
            Order.status.in_(RECEIVED), scope.covers(Order.agency_id)
        )
    ).one()
    first = jakarta_day(moments[0])
    last = jakarta_day(moments[1])
    low = min(first.year if first else this_year, this_year)
    high = max(last.year if last else this_year, this_year)
    return list(range(high, low - 1, -1))

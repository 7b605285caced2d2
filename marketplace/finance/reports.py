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

from catalog.models import BusinessScale, Category, Vendor
from marketplace.accounts.models import Agency
from marketplace.finance.exception_kinds import SQL_KINDS
from marketplace.finance.queries import (
    RECEIVED,
    FinanceScope,
    Period,
    in_period,
    jakarta_day,
    permille,
    tenths,
)
from marketplace.ordering.models import Order, ReceivedByCategory
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
    amount = func.coalesce(func.sum(Order.received_total), 0).label("amount")
    count = func.count(Order.id).label("orders")

    def grouped_by(key: Any) -> Any:
        """The year's received orders summed per key, from the orders' (status,
        received_at, ...) index alone; names are joined to the groups afterwards, as
        grouping by them too would sort every order first."""
        return select(key.label("key"), amount, count).where(*received).group_by(key).subquery()

    per_vendor, per_agency = grouped_by(Order.vendor_id), grouped_by(Order.agency_id)
    vendor_rows = session.execute(
        select(Vendor.id, Vendor.trading_name, Vendor.scale, per_vendor.c.amount)
        .add_columns(per_vendor.c.orders)
        .join(per_vendor, per_vendor.c.key == Vendor.id)
    ).all()
    agency_rows = session.execute(
        select(Agency.id, Agency.name, per_agency.c.amount, per_agency.c.orders).join(
            per_agency, per_agency.c.key == Agency.id
        )
    ).all()
    month_rows = session.execute(
        select(month, amount, count).where(*received).group_by(month)
    ).all()
    agencies: dict[object, _Tally] = {
        agency_id: _Tally(agency_name, int(value), int(orders_count))
        for agency_id, agency_name, value, orders_count in agency_rows
    }
    vendors: dict[object, _Tally] = {}
    scales: dict[object, _Tally] = {s: _Tally(str(s.label)) for s in BusinessScale}
    months: dict[object, _Tally] = {m: _Tally(str(m)) for m in range(1, 13)}
    for in_month, value, orders_count in month_rows:
        months[int(in_month)].amount += int(value)
        months[int(in_month)].count += int(orders_count)
    total = orders = 0
    for vendor_id, vendor_name, scale, value, orders_count in vendor_rows:
        vendors[vendor_id] = _Tally(vendor_name, int(value), int(orders_count))
        scales[scale].amount += int(value)
        scales[scale].count += int(orders_count)
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
        by_category=_by_category(session, scope, year, total, locale),
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
    session: Session, scope: FinanceScope, year: int, total: int, locale: str
) -> list[Share]:
    """Received line amounts per category (they add up to the orders' received totals), from
    the per-category amounts each receipt wrote."""
    spent = ReceivedByCategory
    rows = session.execute(
        select(spent.category_id, func.sum(spent.amount), func.count())
        .where(
            scope.covers(spent.agency_id),
            in_period(Period(year), spent.received_at),
        )
        .group_by(spent.category_id)
    ).all()
    categories = {
        category.id: category
        for category in session.scalars(
            select(Category).where(Category.id.in_([row[0] for row in rows]))
        )
    }
    shares = [
        Share(
            category_id,
            categories[category_id].name_for(locale),
            int(value),
            permille(int(value), total),
            int(n),
        )
        for category_id, value, n in rows
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
    received_on = func.julianday(Order.received_at, f"+{JAKARTA_UTC_HOURS} hours", "start of day")
    return cast(func.julianday(paid_on) - received_on, Integer)


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
    days = _days_to_payment(session.get_bind().dialect.name, Order.last_paid_on)
    # grouped from the orders' (status, received_at, ...) index alone, then named
    per_agency_days = (
        select(
            Order.agency_id.label("agency_id"),
            func.count(Order.id).label("paid"),
            func.coalesce(func.sum(days), 0).label("days"),
            func.coalesce(func.sum(case((days <= payment_due_days, 1), else_=0)), 0).label(
                "within"
            ),
        )
        .where(
            Order.status.in_([OrderStatus.PAID, OrderStatus.RECONCILED]),
            Order.payment_count > 0,
            scope.covers(Order.agency_id),
            in_period(Period(year), Order.received_at),
        )
        .group_by(Order.agency_id)
        .subquery("per_agency_days")
    )
    rows = session.execute(
        select(
            Agency.id,
            Agency.name,
            per_agency_days.c.paid,
            per_agency_days.c.days,
            per_agency_days.c.within,
        ).join(per_agency_days, per_agency_days.c.agency_id == Agency.id)
    )
    per_agency: dict[int, Timeliness] = {
        agency_id: Timeliness(agency_id, agency_name, int(count), int(total), int(within))
        for agency_id, agency_name, count, total, within in rows
    }
    # the orders still owed past their due date, counted per agency in SQL
    overdue, _subject = SQL_KINDS["unpaid_past_due"].query(
        scope, today=today, payment_due_days=payment_due_days
    )
    overdue_rows = overdue.order_by(None).subquery("overdue")
    for agency_id, agency_name, count in session.execute(
        select(overdue_rows.c.agency_id, overdue_rows.c.name, func.count()).group_by(
            overdue_rows.c.agency_id, overdue_rows.c.name
        )
    ):
        row = per_agency.setdefault(agency_id, Timeliness(agency_id, agency_name))
        row.overdue_open += int(count)
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

"""What every finance page shares: whose figures (scope), which month (period), the
per-order figures kept on the order rows, and the handover certificates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Generic, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    String,
    Subquery,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    true,
)

from marketplace.accounts.models import User
from marketplace.documents.models import DocumentKind, IssuedDocument
from marketplace.errors import PermissionDenied
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import OrderStatus
from marketplace.payments.models import ExplainedException
from marketplace.permissions import has_permission

#: orders whose delivery was received: they are spending, invoiced and payable
RECEIVED = (OrderStatus.RECEIVED, OrderStatus.PAID, OrderStatus.RECONCILED)


# Whose figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class FinanceScope:
    """The agencies a finance page covers: None means every agency (province roles)."""

    agency_ids: frozenset[int] | None

    @property
    def province_wide(self) -> bool:
        return self.agency_ids is None

    def covers(self, column: Any) -> ColumnElement[bool]:
        if self.agency_ids is None:
            return true()
        return column.in_(sorted(self.agency_ids))

    def includes(self, agency_id: int | None) -> bool:
        return self.agency_ids is None or agency_id in self.agency_ids


def is_province_finance(user: User) -> bool:
    """Finance and auditors see every agency; a treasurer only their own."""
    return has_permission(user, "finance:view")


def scope_for(user: User, agency_id: int | None = None) -> FinanceScope:
    """The scope of the user's finance pages, narrowed to one agency when asked.

    Asking for an agency the user cannot see is refused, not quietly emptied.
    """
    if is_province_finance(user):
        return FinanceScope(None if agency_id is None else frozenset({agency_id}))
    own = frozenset(a for a in user.agency_ids if has_permission(user, "finance:view", agency_id=a))
    if not own:
        raise PermissionDenied(_l("You cannot see finance figures."))
    if agency_id is None:
        return FinanceScope(own)
    if agency_id not in own:
        raise PermissionDenied(_l("You cannot see this agency's figures."))
    return FinanceScope(frozenset({agency_id}))


# Which month -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month, or a whole year when `month` is None (Asia/Jakarta)."""

    year: int
    month: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> Period | None:
        """Read "2026-11" as November 2026 and "2026" as the year; anything else is None."""
        text = (text or "").strip()
        try:
            if len(text) == 7 and text[4] == "-":
                period = cls(int(text[:4]), int(text[5:]))
            elif len(text) == 4:
                period = cls(int(text))
            else:
                return None
        except ValueError:
            return None
        if not 2000 <= period.year <= 2100 or (
            period.month is not None and not 1 <= period.month <= 12
        ):
            return None
        return period

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}" if self.month else f"{self.year:04d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month or 1, 1)

    @property
    def next_first_day(self) -> date:
        """The first day after the period."""
        if self.month is None or self.month == 12:
            return date(self.year + 1, 1, 1)
        return date(self.year, self.month + 1, 1)

    def starts_at(self) -> datetime:
        return jakarta_midnight(self.first_day)

    def ends_at(self) -> datetime:
        return jakarta_midnight(self.next_first_day)

    def covers_moment(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.starts_at(), column < self.ends_at())

    def covers_day(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.first_day, column < self.next_first_day)


def jakarta_midnight(day: date) -> datetime:
    """The moment a Jakarta day starts, in UTC (how timestamps are stored)."""
    return datetime.combine(day, time(0), JAKARTA).astimezone(UTC)


def jakarta_day(moment: datetime | None) -> date | None:
    return moment.astimezone(JAKARTA).date() if moment is not None else None


def in_period(period: Period | None, column: Any, *, is_date: bool = False) -> ColumnElement[bool]:
    if period is None:
        return true()
    return period.covers_day(column) if is_date else period.covers_moment(column)


# Per-order sums ----------------------------------------------------------------------


def _of_orders(column: Any, order_ids: Any) -> ColumnElement[bool]:
    """Limit a per-order sum to some orders (a page of them), or not at all (None)."""
    return true() if order_ids is None else column.in_(order_ids)


def current_basts(order_ids: Any = None) -> Subquery:
    """Orders that have a handover certificate: order_id, document_id (the latest)."""
    return (
        select(
            IssuedDocument.order_id.label("order_id"),
            func.max(IssuedDocument.id).label("document_id"),
        )
        .where(
            IssuedDocument.kind == DocumentKind.BAST, _of_orders(IssuedDocument.order_id, order_ids)
        )
        .group_by(IssuedDocument.order_id)
        .subquery("current_basts")
    )


def paid_net() -> ColumnElement[int]:
    """What reached the vendor on an order: its succeeded payments less its refunds (the
    totals the payments services keep on the order row)."""
    return Order.paid_total - Order.refunded_total


def duplicate_payment_condition() -> ColumnElement[bool]:
    """An order paid in full more than once, or paid (before refunds) beyond its net payable
    (from the totals and invoice amounts on the order row). A payment recorded as partial
    (with its reason) followed by the rest is not a duplicate."""
    return and_(
        Order.payment_count > 0,
        or_(
            and_(Order.payment_count > 1, Order.full_payment_count > 1),
            and_(Order.net_payable.is_not(None), Order.paid_total > Order.net_payable),
        ),
    )


def is_explained(kind: str, subject: Any) -> ColumnElement[bool]:
    """Finance explained the exception of this kind and subject (an index probe)."""
    return (
        select(ExplainedException.id)
        .where(ExplainedException.kind == kind, ExplainedException.subject == subject)
        .exists()
    )


def permille(part: int, whole: int) -> int | None:
    """part/whole in tenths of a percent, rounded half up, with integers only."""
    if whole <= 0:
        return None
    return (part * 2000 + whole) // (2 * whole)


def tenths(total: int, count: int) -> int | None:
    """total/count in tenths, rounded half up (e.g. average days as 3.5 -> 35)."""
    if count <= 0:
        return None
    return (total * 20 + count) // (2 * count)


def subject_of(prefix: str, column: Any) -> ColumnElement[str]:
    """The exception subject ("order:12") of a row, in SQL, to join explanations on."""
    return literal(f"{prefix}:", String).concat(cast(column, String))


# Pages of long lists -----------------------------------------------------------------

#: rows on one page of a finance list
PAGE_SIZE = 50
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list whose total is counted over the whole filtered set."""

    items: list[T]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(value: int | None, total: int, size: int = PAGE_SIZE) -> int:
    """The page asked for, kept between the first and the last page."""
    last = max(1, -(-total // size))
    return min(max(value or 1, 1), last)

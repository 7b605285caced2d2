"""What each person finds on their home page: one section per role they hold, built from the
feature packages' own queries and scoped to the person's agency or business.

Every section runs a fixed number of queries, however many orders, lines or listings it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, joinedload

from catalog.documents import documents_expiring_soon
from catalog.models import (
    DocumentStatus,
    Product,
    ProductStatus,
    ReviewState,
    Vendor,
    VendorDocument,
    VendorStatus,
)
from catalog.services import review_queue
from marketplace.accounts.models import Role, User
from marketplace.admin.services import document_queue
from marketplace.budgets.models import BudgetLine
from marketplace.budgets.services import chargeable_lines
from marketplace.delivery.services import awaiting_receipt
from marketplace.finance import exceptions as finance_exceptions
from marketplace.finance import reports
from marketplace.finance.charts import Bar, bar_chart
from marketplace.finance.queries import scope_for
from marketplace.finance.views import format_permille
from marketplace.ordering.models import Order
from marketplace.ordering.services import approval_queue
from marketplace.ordering.states import (
    ACCEPTED_STATUSES,
    COMMITTED_STATUSES,
    OrderAction,
    OrderStatus,
)
from marketplace.payments import services as payments
from marketplace.permissions import can_act
from marketplace.vendor.services import vendors_of

#: how many rows each list on the home page shows; the feature pages show the rest
LIST_LIMIT = 8
#: days of the vendor's capacity calendar
CALENDAR_DAYS = 14
DONE_STATUSES = (OrderStatus.RECEIVED, OrderStatus.PAID, OrderStatus.RECONCILED)


# Requester ---------------------------------------------------------------------------


@dataclass
class RequesterHome:
    open_orders: list[Order]
    open_count: int
    recent_orders: list[Order]
    lines: list[BudgetLine]
    repeatable: list[Order]
    cart_count: int


def requester_home(session: Session, user: User) -> RequesterHome:
    """The requester's own orders (open ones first), the lines they can order against and
    recently received orders to order again."""
    agency_ids = sorted(
        m.agency_id for m in user.memberships if m.role is Role.REQUESTER and m.agency_id
    )
    mine = (
        select(Order)
        .where(Order.requester_id == user.id, Order.agency_id.in_(agency_ids))
        .options(joinedload(Order.vendor))
    )
    open_orders = list(
        session.scalars(
            mine.where(Order.status.in_(COMMITTED_STATUSES))
            .order_by(Order.delivery_date, Order.delivery_time, Order.id)
            .limit(LIST_LIMIT)
        )
    )
    open_count = session.scalar(
        select(func.count(Order.id)).where(
            Order.requester_id == user.id,
            Order.agency_id.in_(agency_ids),
            Order.status.in_(COMMITTED_STATUSES),
        )
    )
    closed = list(
        session.scalars(
            mine.where(
                Order.status.not_in([*COMMITTED_STATUSES, OrderStatus.CART]),
            )
            .order_by(Order.id.desc())
            .limit(LIST_LIMIT)
        )
    )
    cart_count = session.scalar(
        select(func.count(Order.id)).where(
            Order.requester_id == user.id, Order.status == OrderStatus.CART
        )
    )
    lines = [line for agency_id in agency_ids for line in chargeable_lines(session, agency_id)]
    return RequesterHome(
        open_orders=open_orders,
        open_count=open_count or 0,
        recent_orders=closed[:4],
        lines=lines,
        repeatable=[o for o in closed if o.status in DONE_STATUSES][:3],
        cart_count=cart_count or 0,
    )


# Approver and budget holder ----------------------------------------------------------


@dataclass
class ApproverHome:
    waiting: list[Order]
    #: delivered orders to confirm, each with whether it is overdue; overdue ones first
    receipts: list[tuple[Order, bool]]
    can_receive: bool

    @property
    def overdue_receipts(self) -> int:
        return sum(1 for _order, overdue in self.receipts if overdue)


def approver_home(session: Session, user: User, receipt_due_days: int) -> ApproverHome:
    """Orders waiting for this person's approval (with the flags the approval page shows) and
    deliveries their agency has not confirmed yet."""
    can_receive = any(m.role is Role.APPROVER for m in user.memberships)
    receipts: list[tuple[Order, bool]] = []
    if can_receive:
        rows = awaiting_receipt(session, user, receipt_due_days)
        receipts = [(o, late) for o, late in rows if can_act(user, o, OrderAction.RECEIVE)]
        receipts.sort(key=lambda row: not row[1])
    return ApproverHome(
        waiting=approval_queue(session, user), receipts=receipts, can_receive=can_receive
    )


# Vendor ------------------------------------------------------------------------------


@dataclass
class CalendarDay:
    day: date
    booked: int
    waiting: int
    capacity: int | None
    closed: bool
    closed_reason: str = ""

    @property
    def percent(self) -> int:
        """How full the day is, for the bar (0-100)."""
        if not self.capacity:
            return 0
        return min(100, self.booked * 100 // self.capacity)

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.booked >= self.capacity


@dataclass
class ListingAttention:
    product: Product
    reasons: list[str]


@dataclass
class DocumentAttention:
    document: VendorDocument
    #: days left before it expires; negative once expired; None when rejected
    days_left: int | None


@dataclass
class ExpectedPayment:
    order: Order
    outstanding: int
    due_on: date | None
    late: bool


@dataclass
class VendorHome:
    vendor: Vendor
    today: date
    deliveries: list[Order]
    calendar: list[CalendarDay]
    listings: list[ListingAttention]
    documents: list[DocumentAttention]
    payments: list[ExpectedPayment]
    to_answer: int

    @property
    def deliveries_today(self) -> list[Order]:
        return [o for o in self.deliveries if o.delivery_date == self.today]

    @property
    def deliveries_tomorrow(self) -> list[Order]:
        return [o for o in self.deliveries if o.delivery_date != self.today]

    @property
    def expected_total(self) -> int:
        return sum(p.outstanding for p in self.payments)


def _capacity_calendar(session: Session, vendor: Vendor, today: date) -> list[CalendarDay]:
    last = today + timedelta(days=CALENDAR_DAYS - 1)
    accepted = Order.status.in_(ACCEPTED_STATUSES)
    rows = session.execute(
        select(
            Order.delivery_date,
            func.sum(case((accepted, Order.portions), else_=0)),
            func.sum(case((Order.status == OrderStatus.APPROVED, Order.portions), else_=0)),
        )
        .where(
            Order.vendor_id == vendor.id,
            Order.delivery_date.between(today, last),
            or_(accepted, Order.status == OrderStatus.APPROVED),
        )
        .group_by(Order.delivery_date)
    ).all()
    portions = {day: (int(booked or 0), int(waiting or 0)) for day, booked, waiting in rows}
    closed = {c.day: c.reason for c in vendor.closed_days if today <= c.day <= last}
    days = []
    for offset in range(CALENDAR_DAYS):
        day = today + timedelta(days=offset)
        booked, waiting = portions.get(day, (0, 0))
        days.append(
            CalendarDay(
                day=day,
                booked=booked,
                waiting=waiting,
                capacity=vendor.max_portions_per_day,
                closed=day in closed,
                closed_reason=closed.get(day, ""),
            )
        )
    return days


def _listings_needing_attention(session: Session, vendor: Vendor) -> list[ListingAttention]:
    products = session.scalars(
        select(Product)
        .where(
            Product.vendor_id == vendor.id,
            or_(
                Product.review_state != ReviewState.APPROVED,
                Product.status == ProductStatus.PAUSED,
                Product.delisted_reason != "",
            ),
        )
        .order_by(Product.name)
    )
    result = []
    for product in products:
        reasons = []
        if product.review_state is ReviewState.REJECTED:
            reasons.append(_("Rejected by the curator"))
        elif product.review_state is ReviewState.PENDING:
            reasons.append(_("Waiting for the curator"))
        if product.status is ProductStatus.PAUSED:
            reasons.append(_("Paused"))
        if product.delisted_reason:
            reasons.append(_("Off sale: a document expired"))
        result.append(ListingAttention(product, reasons))
    return result


def _documents_needing_attention(vendor: Vendor, today: date) -> list[DocumentAttention]:
    result = [
        DocumentAttention(document, days)
        for document, days in documents_expiring_soon(vendor, today)
    ]
    for document in vendor.documents:
        if document.status is DocumentStatus.EXPIRED:
            result.append(DocumentAttention(document, (document.expires_on - today).days))
        elif document.status is DocumentStatus.REJECTED:
            result.append(DocumentAttention(document, None))
    return result


def vendor_home(
    session: Session, user: User, today: date, payment_due_days: int
) -> VendorHome | None:
    """The business's next two days of deliveries, the capacity of the next two weeks, the
    listings and documents that need the owner, and the money expected."""
    vendors = vendors_of(session, user)
    if not vendors:
        return None
    vendor = vendors[0]
    deliveries = list(
        session.scalars(
            select(Order)
            .where(
                Order.vendor_id == vendor.id,
                Order.status == OrderStatus.ACCEPTED,
                Order.delivery_date.between(today, today + timedelta(days=1)),
            )
            .options(joinedload(Order.agency))
            .order_by(Order.delivery_date, Order.delivery_time, Order.id)
        )
    )
    to_answer = session.scalar(
        select(func.count(Order.id)).where(
            Order.vendor_id == vendor.id, Order.status == OrderStatus.APPROVED
        )
    )
    received = list(
        session.scalars(
            select(Order)
            .where(Order.vendor_id == vendor.id, Order.status == OrderStatus.RECEIVED)
            .options(joinedload(Order.agency))
            .order_by(Order.received_at, Order.id)
        )
    )
    money = payments.money_of_orders(session, [o.id for o in received])
    expected = []
    for order in received:
        owed = money[order.id]
        due = payments.payment_due_on(order, payment_due_days)
        expected.append(
            ExpectedPayment(
                order=order,
                outstanding=owed.outstanding,
                due_on=due,
                late=owed.outstanding > 0 and due is not None and due < today,
            )
        )
    return VendorHome(
        vendor=vendor,
        today=today,
        deliveries=deliveries,
        calendar=_capacity_calendar(session, vendor, today),
        listings=_listings_needing_attention(session, vendor),
        documents=_documents_needing_attention(vendor, today),
        payments=expected,
        to_answer=to_answer or 0,
    )


# Treasurer ---------------------------------------------------------------------------


@dataclass
class TreasurerHome:
    rows: list[payments.PayableOrder]

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def amount(self) -> int:
        return sum(row.outstanding for row in self.rows)

    @property
    def overdue(self) -> list[payments.PayableOrder]:
        return [row for row in self.rows if row.overdue]

    @property
    def overdue_amount(self) -> int:
        return sum(row.outstanding for row in self.overdue)

    @property
    def first(self) -> list[payments.PayableOrder]:
        """The rows to show: overdue ones first, then by due date."""
        ordered = sorted(self.rows, key=lambda r: (not r.overdue, r.due_on or date.max))
        return ordered[:5]


def treasurer_home(session: Session, user: User, payment_due_days: int) -> TreasurerHome:
    return TreasurerHome(payments.payable_orders(session, user, payment_due_days))


# Finance -----------------------------------------------------------------------------


@dataclass
class FinanceHome:
    year: int
    exception_counts: list[tuple[str, str, int]]
    spending: reports.SpendingReport
    timeliness: list[reports.Timeliness]
    timeliness_total: reports.Timeliness
    charts: dict[str, Markup] = field(default_factory=dict)

    @property
    def open_exceptions(self) -> int:
        return sum(count for _kind, _label, count in self.exception_counts)


def finance_home(
    session: Session, user: User, today: date, payment_due_days: int, locale: str
) -> FinanceHome:
    """Open reconciliation exceptions per kind, the micro and small business share against
    the target and payment timeliness, from the finance reports."""
    scope = scope_for(user)
    counts = finance_exceptions.count_by_kind(
        session, scope, today=today, payment_due_days=payment_due_days
    )
    spending = reports.spending_report(session, scope, today.year, locale=locale)
    per_agency, total = reports.timeliness(
        session, scope, today.year, payment_due_days=payment_due_days, today=today
    )
    target = format_permille(reports.SME_TARGET_PERMILLE)
    home = FinanceHome(
        year=today.year,
        exception_counts=[
            (kind, str(label), counts[kind]) for kind, label in finance_exceptions.KINDS.items()
        ],
        spending=spending,
        timeliness=per_agency,
        timeliness_total=total,
    )
    home.charts["sme"] = bar_chart(
        "home-chart-sme",
        _("Micro and small businesses' share, %(year)s", year=today.year),
        _(
            "Share of the year's spending that went to micro and small businesses; the dashed"
            " line is the %(target)s target.",
            target=target,
        ),
        [
            Bar(
                _("Micro and small"),
                spending.sme_permille or 0,
                format_permille(spending.sme_permille),
            )
        ],
        top=1000,
        target=(reports.SME_TARGET_PERMILLE, _("Target %(target)s", target=target)),
    )
    home.charts["timeliness"] = bar_chart(
        "home-chart-timeliness",
        _("Paid orders paid within the payment term, %(year)s", year=today.year),
        _("Share of each agency's paid orders paid within the payment term."),
        [
            Bar(t.agency_name, t.within_due_permille or 0, format_permille(t.within_due_permille))
            for t in per_agency
        ],
        top=1000,
    )
    return home


# Curator -----------------------------------------------------------------------------


@dataclass
class CuratorHome:
    vendors_waiting: int
    documents_waiting: int
    listings_waiting: int
    open_disputes: int

    @property
    def total(self) -> int:
        return (
            self.vendors_waiting
            + self.documents_waiting
            + self.listings_waiting
            + self.open_disputes
        )


def curator_home(session: Session) -> CuratorHome:
    return CuratorHome(
        vendors_waiting=session.scalar(
            select(func.count(Vendor.id)).where(Vendor.status == VendorStatus.PENDING)
        )
        or 0,
        documents_waiting=len(document_queue(session)),
        listings_waiting=len(review_queue(session)),
        open_disputes=session.scalar(
            select(func.count(Order.id)).where(Order.status == OrderStatus.DISPUTED)
        )
        or 0,
    )

"""The rules an order must meet before it is submitted: the vendor's lead time, cut-off,
closed days, service area and daily capacity; the order cap; standard unit costs; possible
split purchases; and the vendor's deadline to answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Update, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from catalog import vendors
from marketplace.budgets.models import BudgetLine
from marketplace.errors import Conflict, DomainError
from marketplace.i18n import rupiah
from marketplace.ordering.caps import caps_for
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.states import ACCEPTED_STATUSES, OrderStatus

JAKARTA = ZoneInfo("Asia/Jakarta")
MAX_LINE_QUANTITY = 100_000


@dataclass(frozen=True)
class OrderRules:
    """Limits that come from configuration (rupiah amounts and day counts)."""

    order_cap: int = 50_000_000
    second_approval_threshold: int = 10_000_000
    split_purchase_threshold: int = 10_000_000
    acceptance_working_days: int = 3
    #: days the agency has to confirm a delivery before it is listed as overdue
    receipt_due_days: int = 3
    #: days after receipt by which the treasurer pays the vendor
    payment_due_days: int = 14


@dataclass(frozen=True)
class CheckoutDetails:
    budget_line_id: int
    activity_name: str
    delivery_date: date
    delivery_time: time
    delivery_address: str
    headcount: int | None = None
    delivery_district: str = ""
    #: required when a line costs more per person than its category's standard unit cost
    justification: str = ""
    delivery_until: time | None = None
    recipient_name: str = ""
    recipient_phone: str = ""
    #: keep the address for the agency's next orders under this label
    save_address_as: str = ""
    notes: str = ""


def delivery_moment(details: CheckoutDetails) -> datetime:
    return datetime.combine(details.delivery_date, details.delivery_time, tzinfo=JAKARTA)


def check_order_can_be_submitted(
    order: Order, details: CheckoutDetails, rules: OrderRules, now: datetime
) -> None:
    if not order.lines:
        raise DomainError(_l("The order has no items."))
    delivery = delivery_moment(details)
    for line in order.lines:
        product = line.product
        if not product.is_orderable:
            raise Conflict(
                _l(
                    "“%(name)s” can no longer be ordered; remove it from your cart.",
                    name=line.product_name,
                )
            )
        if line.quantity < product.min_order_quantity:
            raise DomainError(
                _l(
                    "“%(name)s” needs at least %(minimum)d per order.",
                    name=line.product_name,
                    minimum=product.min_order_quantity,
                )
            )
        if delivery < now + timedelta(hours=product.lead_time_hours):
            raise DomainError(
                _l(
                    "“%(name)s” must be ordered at least %(hours)d hours before delivery.",
                    name=line.product_name,
                    hours=product.lead_time_hours,
                ),
                field="delivery_date",
            )
    if order.total > rules.order_cap:
        raise DomainError(
            _l(
                "An order to one vendor may not exceed the cap of Rp %(cap)s.",
                cap=rupiah(rules.order_cap).removeprefix("Rp "),
            )
        )


def lines_over_unit_cost(session: Session, order: Order) -> list[tuple[OrderLine, int]]:
    """Lines whose price per person exceeds their category's standard unit cost, with the cap."""
    caps = caps_for(session, order.agency_id)
    over = []
    for line in order.lines:
        cap = caps.get(line.product.category_id)
        # price per person > cap, in whole rupiah: unit price > cap x people fed per unit
        if cap is not None and line.unit_price > cap * line.product.portions_per_unit:
            over.append((line, cap))
    return over


def check_standard_unit_costs(session: Session, order: Order) -> None:
    over = lines_over_unit_cost(session, order)
    if over and not order.justification:
        names = ", ".join(f"{line.product_name} (max {rupiah(cap)}/pax)" for line, cap in over)
        raise DomainError(
            _l(
                "These cost more per person than the standard unit cost: %(lines)s. "
                "Write a justification for the approver.",
                lines=names,
            ),
            field="justification",
        )


#: statuses of orders that count towards a possible split purchase
_LIVE_STATUSES = frozenset(OrderStatus) - {
    OrderStatus.CART,
    OrderStatus.REJECTED,
    OrderStatus.DECLINED,
    OrderStatus.EXPIRED,
    OrderStatus.CANCELLED,
}


@cache
def _flag_split_statement() -> Update:
    """One statement, built once: the orders of one agency to one vendor for one day are
    flagged when together they cross the threshold (:split_agency, :split_vendor,
    :split_day, :split_threshold)."""
    same_purchase = (
        (Order.agency_id == bindparam("split_agency"))
        & (Order.vendor_id == bindparam("split_vendor"))
        & (Order.delivery_date == bindparam("split_day"))
        & Order.status.in_(_LIVE_STATUSES)
    )
    total = func.coalesce(func.sum(Order.total), 0)
    together = (
        select(func.count(), total)
        .where(same_purchase)
        .having((func.count() > 1) & (total > bindparam("split_threshold")))
        .correlate(None)
        .exists()
    )
    return (
        update(Order)
        .where(same_purchase, Order.possible_split.is_(False), together)
        .values(possible_split=True)
        .returning(Order.id)
    )


def flag_possible_split(session: Session, order: Order, rules: OrderRules) -> None:
    """Flag (not block) several orders by one agency to one vendor for one day that together
    cross the threshold: the approver should check they are not one purchase split up."""
    threshold = order.agency.split_purchase_threshold or rules.split_purchase_threshold
    # The Core UPDATE after a flush, as the ORM's own UPDATE would do, without its
    # bookkeeping; the orders this session holds show their new flag.
    session.flush()
    flagged = session.connection().execute(
        _flag_split_statement(),
        {
            "split_agency": order.agency_id,
            "split_vendor": order.vendor_id,
            "split_day": order.delivery_date,
            "split_threshold": threshold,
        },
    )
    for (order_id,) in flagged:
        held = session.identity_map.get(identity_key(Order, order_id))
        if held is not None:
            set_committed_value(held, "possible_split", True)


def order_portions(order: Order) -> int:
    return sum(line.quantity * line.product.portions_per_unit for line in order.lines)


def booked_portions(session: Session, vendor_id: int, day: date, exclude_order_id: int) -> int:
    """Portions the vendor has already accepted for delivery on `day`."""
    return (
        session.scalar(
            select(func.coalesce(func.sum(Order.portions), 0)).where(
                Order.vendor_id == vendor_id,
                Order.delivery_date == day,
                Order.status.in_(ACCEPTED_STATUSES),
                Order.id != exclude_order_id,
            )
        )
        or 0
    )


def check_vendor_can_deliver(
    session: Session, order: Order, details: CheckoutDetails, now: datetime
) -> None:
    """The vendor's service area, closed days, order cut-off and daily portion capacity."""
    vendor = order.vendor
    name = vendor.trading_name
    if not vendors.serves_district(vendor, details.delivery_district):
        raise DomainError(
            _l(
                "%(vendor)s does not deliver to %(district)s.",
                vendor=name,
                district=details.delivery_district.strip(),
            ),
            field="delivery_district",
        )
    if vendors.is_closed_on(vendor, details.delivery_date):
        raise DomainError(
            _l("%(vendor)s is closed on that day; choose another date or vendor.", vendor=name),
            field="delivery_date",
        )
    local_now = now.astimezone(JAKARTA)
    if vendor.order_cutoff is not None:
        latest_day_for_today = local_now.date() + timedelta(days=1)
        if details.delivery_date <= latest_day_for_today and (
            details.delivery_date <= local_now.date() or local_now.time() >= vendor.order_cutoff
        ):
            raise DomainError(
                _l(
                    "%(vendor)s takes orders for the next day until %(time)s.",
                    vendor=name,
                    time=vendor.order_cutoff.strftime("%H:%M"),
                ),
                field="delivery_date",
            )
    check_capacity(session, order, details.delivery_date)


def check_delivery_in_fiscal_year(details: CheckoutDetails, line: BudgetLine) -> None:
    """Spending belongs to the fiscal year of the line it is charged to."""
    if details.delivery_date.year != line.fiscal_year:
        raise DomainError(
            _l(
                "Delivery must fall in the fiscal year of the budget line (%(year)d).",
                year=line.fiscal_year,
            ),
            field="delivery_date",
        )


def check_capacity(session: Session, order: Order, day: date) -> None:
    limit = order.vendor.max_portions_per_day
    if limit is None:
        return
    booked = booked_portions(session, order.vendor_id, day, order.id)
    # Once submitted, an order's portions are those it was submitted with.
    needed = order.portions or order_portions(order)
    if booked + needed > limit:
        raise DomainError(
            _l(
                "%(vendor)s can make %(left)d more portions on that day; this order needs "
                "%(needed)d.",
                vendor=order.vendor.trading_name,
                left=max(limit - booked, 0),
                needed=needed,
            ),
            field="delivery_date",
        )


def add_working_days(start: datetime, days: int) -> datetime:
    """`start` plus `days` working days (Monday to Friday), in Jakarta time."""
    moment = start.astimezone(JAKARTA)
    added = 0
    while added < days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment


def acceptance_deadline(order: Order, rules: OrderRules) -> datetime | None:
    """When the vendor must have answered: N working days after approval, and before delivery."""
    if order.approved_at is None:
        return None
    deadline = add_working_days(order.approved_at, rules.acceptance_working_days)
    if order.delivery_date and order.delivery_time:
        delivery = datetime.combine(order.delivery_date, order.delivery_time, tzinfo=JAKARTA)
        deadline = min(deadline, delivery)
    return deadline.astimezone(UTC)

"""The vendor's kitchen sheet: accepted orders of a few days, grouped by delivery day and time
window, with what to cook in total each day; made to be printed and pinned up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.models import Unit, Vendor
from marketplace.db import get_session
from marketplace.ordering.models import Order
from marketplace.ordering.states import ACCEPTED_STATUSES
from marketplace.vendor import services
from marketplace.vendor.views import bp
from marketplace.web import permission_required, today_in_jakarta

#: the longest range one sheet covers
MAX_DAYS = 31


@dataclass
class KitchenWindow:
    """Orders due in the same delivery window of one day."""

    starts: time | None
    until: time | None
    orders: list[Order] = field(default_factory=list)


@dataclass
class ProductTotal:
    name: str
    unit: Unit
    quantity: int = 0
    orders: int = 0


@dataclass
class KitchenDay:
    day: date
    windows: list[KitchenWindow] = field(default_factory=list)
    totals: list[ProductTotal] = field(default_factory=list)
    portions: int = 0

    @property
    def order_count(self) -> int:
        return sum(len(w.orders) for w in self.windows)


def kitchen_days(session: Session, vendor: Vendor, first: date, last: date) -> list[KitchenDay]:
    """The vendor's accepted orders delivered from `first` to `last`, day by day, each day's
    orders by time window, and per day the quantity of each product. Two queries."""
    orders = session.scalars(
        select(Order)
        .where(
            Order.vendor_id == vendor.id,
            Order.status.in_(ACCEPTED_STATUSES),
            Order.delivery_date.between(first, last),
        )
        .options(joinedload(Order.agency))
        .order_by(Order.delivery_date, Order.delivery_time, Order.delivery_until, Order.id)
    )
    days: dict[date, KitchenDay] = {}
    totals: dict[date, dict[tuple[int, Unit], ProductTotal]] = {}
    for order in orders:
        if order.delivery_date is None:  # an accepted order always has one
            continue
        day = days.setdefault(order.delivery_date, KitchenDay(order.delivery_date))
        if (
            not day.windows
            or day.windows[-1].starts != order.delivery_time
            or day.windows[-1].until != order.delivery_until
        ):
            day.windows.append(KitchenWindow(order.delivery_time, order.delivery_until))
        day.windows[-1].orders.append(order)
        day.portions += order.portions
        per_product = totals.setdefault(order.delivery_date, {})
        for line in order.lines:
            total = per_product.setdefault(
                (line.product_id, line.unit), ProductTotal(line.product_name, line.unit)
            )
            total.quantity += line.quantity
            total.orders += 1
    for day_key, day in days.items():
        day.totals = sorted(totals[day_key].values(), key=lambda t: (-t.quantity, t.name))
    return [days[key] for key in sorted(days)]


class RangeError(ValueError):
    pass


def parse_range(first_text: str | None, last_text: str | None, today: date) -> tuple[date, date]:
    """The days asked for (default: today and tomorrow), or a RangeError saying what is wrong."""

    def parse(text: str | None, default: date, label: str) -> date:
        if not text:
            return default
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            raise RangeError(
                _(
                    "“%(value)s” is not a date for “%(field)s”; write it as YYYY-MM-DD.",
                    value=text[:20],
                    field=label,
                )
            ) from None

    first = parse(first_text, today, _("First day"))
    last = parse(
        last_text,
        first + timedelta(days=1) if first_text else today + timedelta(days=1),
        _("Last day"),
    )
    if last < first:
        raise RangeError(_("The last day comes before the first; swap them."))
    if (last - first).days >= MAX_DAYS:
        raise RangeError(_("One sheet covers at most %(num)d days.", num=MAX_DAYS))
    return first, last


def _vendor_asked_for(session: Session) -> Vendor:
    """The user's business, or the one of theirs named by `?vendor=`; another's is not found."""
    vendor_id = request.args.get("vendor", type=int)
    if vendor_id is None:
        return services.current_vendor(session, current_user)
    vendor = session.get(Vendor, vendor_id) if vendor_id in current_user.vendor_ids else None
    if vendor is None:
        abort(404)
    return vendor


@bp.get("/kitchen")
@permission_required("order:fulfil")
def kitchen():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = _vendor_asked_for(db)
    today = today_in_jakarta()
    first_text, last_text = request.args.get("from"), request.args.get("to")
    try:
        first, last = parse_range(first_text, last_text, today)
    except RangeError as error:
        return render_template(
            "vendor/kitchen.html",
            vendor=vendor,
            days=[],
            error=str(error),
            first_text=first_text or "",
            last_text=last_text or "",
            first=None,
            last=None,
        ), 400
    return render_template(
        "vendor/kitchen.html",
        vendor=vendor,
        days=kitchen_days(db, vendor, first, last),
        error=None,
        first_text=first.isoformat(),
        last_text=last.isoformat(),
        first=first,
        last=last,
    )

"""Order operations: the cart, checkout with budget commitment, and every lifecycle step.

Each operation takes the acting user, checks permission, moves the order through the one
transition table, moves money on the budget ledger, writes the audit event and flushes.
Views commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload

from catalog.db import utcnow
from catalog.models import Product
from marketplace.accounts.models import AgencyAddress, Role, User
from marketplace.audit.services import add_event, record_event
from marketplace.budgets import services as ledger
from marketplace.budgets.models import BudgetLine
from marketplace.errors import (
    Conflict,
    DomainError,
    InsufficientBudget,
    NotFound,
    PermissionDenied,
)
from marketplace.notifications.services import notify_order_change
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.rules import (  # noqa: F401  (part of this module's interface)
    JAKARTA,
    MAX_LINE_QUANTITY,
    CheckoutDetails,
    OrderRules,
    acceptance_deadline,
    add_working_days,
    check_capacity,
    check_delivery_in_fiscal_year,
    check_order_can_be_submitted,
    check_standard_unit_costs,
    check_vendor_can_deliver,
    delivery_moment,
    flag_possible_split,
    order_portions,
)
from marketplace.ordering.states import (
    TIMESTAMP_FOR_STATUS,
    OrderAction,
    OrderStatus,
    next_status,
)
from marketplace.permissions import can_act, can_view_order, has_permission

# Reading -----------------------------------------------------------------------------


def visible_orders_query(user: User) -> Select[tuple[Order]]:
    """Orders the user may see: their agencies', their vendors', or all for province roles."""
    query = (
        select(Order)
        .where(Order.status != OrderStatus.CART)
        .options(
            joinedload(Order.vendor),
            joinedload(Order.agency),
            joinedload(Order.requester),
            joinedload(Order.budget_line),
        )
    )
    if has_permission(user, "order:view"):  # a province-wide role
        return query
    agency_ids = {m.agency_id for m in user.memberships if m.agency_id is not None}
    vendor_ids = {m.vendor_id for m in user.memberships if m.vendor_id is not None}
    # Only the sides the person has: an OR with an empty side keeps the databases from
    # reading the newest orders straight off the agency's (or vendor's) index.
    if agency_ids and vendor_ids:
        return query.where(Order.agency_id.in_(agency_ids) | Order.vendor_id.in_(vendor_ids))
    if vendor_ids:
        return query.where(Order.vendor_id.in_(vendor_ids))
    return query.where(Order.agency_id.in_(agency_ids))


def get_visible_order(session: Session, user: User, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None or not can_view_order(user, order):
        raise NotFound(_l("No such order."))
    return order


def approval_queue(session: Session, user: User) -> list[Order]:
    """Orders waiting for this user's approval, oldest first."""
    candidates = session.scalars(
        select(Order)
        .where(Order.status == OrderStatus.SUBMITTED, Order.agency_id.in_(user.agency_ids))
        .options(
            joinedload(Order.vendor),
            joinedload(Order.agency),
            # the queue shows requesters' names: not their roles, nor the orders' lines
            joinedload(Order.requester).lazyload(User.memberships),
            joinedload(Order.budget_line),
            lazyload(Order.lines),
        )
        .order_by(Order.submitted_at, Order.id)
    )
    return [order for order in candidates if can_act(user, order, OrderAction.APPROVE)]


# Cart --------------------------------------------------------------------------------


def requester_agency_id(user: User) -> int:
    agency_ids = sorted(
        m.agency_id for m in user.memberships if m.role is Role.REQUESTER and m.agency_id
    )
    if not agency_ids:
        raise PermissionDenied(_l("Only a requester of an agency can order."))
    return agency_ids[0]


#: a cart order's vendor, and its lines with their products (not the products' photos)
_WITH_VENDOR_AND_LINES = (
    joinedload(Order.vendor, innerjoin=True),
    selectinload(Order.lines)
    .joinedload(OrderLine.product, innerjoin=True)
    .lazyload(Product.photos),
)


def cart_orders(session: Session, user: User) -> list[Order]:
    """The user's cart orders with their vendors, lines and products (as the cart shows them)."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.requester_id == user.id, Order.status == OrderStatus.CART)
            .order_by(Order.id)
            .options(*_WITH_VENDOR_AND_LINES)
        )
    )


def _check_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise DomainError(_l("The quantity must be at least 1."), field="quantity")
    if quantity > MAX_LINE_QUANTITY:
        raise DomainError(_l("The quantity is too large."), field="quantity")


def add_to_cart(
    session: Session, user: User, product: Product, quantity: int, agency_id: int | None = None
) -> Order:
    """Put a product in the requester's cart for `agency_id` (their first agency by default)."""
    if agency_id is None:
        agency_id = requester_agency_id(user)
    elif not has_permission(user, "order:submit", agency_id=agency_id):
        raise PermissionDenied(_l("Only a requester of an agency can order."))
    _check_quantity(quantity)
    if not product.is_orderable:
        raise Conflict(_l("This product cannot be ordered now."))
    order = session.scalar(
        select(Order).where(
            Order.requester_id == user.id,
            Order.status == OrderStatus.CART,
            Order.vendor_id == product.vendor_id,
            Order.agency_id == agency_id,
        )
    )
    if order is None:
        order = Order(
            agency_id=agency_id,
            vendor_id=product.vendor_id,
            requester_id=user.id,
            status=OrderStatus.CART,
        )
        session.add(order)
    line = next((ln for ln in order.lines if ln.product_id == product.id), None)
    if line is None:
        order.lines.append(
            OrderLine(
                product=product,
                product_name=product.name,
                unit=product.unit,
                unit_price=product.price,
                quantity=quantity,
            )
        )
    else:
        _check_quantity(line.quantity + quantity)
        line.quantity += quantity
    order.recompute_total()
    session.flush()
    return order


def set_cart_quantity(session: Session, user: User, line_id: int, quantity: int) -> None:
    """Change a cart line's quantity; zero removes it (and an emptied cart order)."""
    line = session.get(OrderLine, line_id)
    if (
        line is None
        or line.order.requester_id != user.id
        or line.order.status is not OrderStatus.CART
    ):
        raise NotFound(_l("That item is no longer in your cart."))
    order = line.order
    if quantity == 0:
        order.lines.remove(line)
    else:
        _check_quantity(quantity)
        line.quantity = quantity
    if not order.lines:
        session.delete(order)
    else:
        order.recompute_total()
    session.flush()


def repeat_order(session: Session, user: User, order: Order) -> tuple[int, list[str]]:
    """Put a past order's items back in the user's cart at today's prices.

    Returns how many lines were added and the names of products no longer on sale.
    """
    if order.status is OrderStatus.CART or not has_permission(
        user, "order:submit", agency_id=order.agency_id
    ):
        raise PermissionDenied(_l("Only a requester of the agency can repeat its orders."))
    added, unavailable = 0, []
    for line in order.lines:
        if line.product.is_orderable:
            add_to_cart(session, user, line.product, line.quantity, agency_id=order.agency_id)
            added += 1
        else:
            unavailable.append(line.product_name)
    return added, unavailable


# Checkout ----------------------------------------------------------------------------


def transition_order(
    session: Session,
    order: Order,
    action: OrderAction,
    actor: User | None,
    *,
    reason: str = "",
    extra: dict[str, object] | None = None,
) -> None:
    """Move the order along the transition table and record the audit event."""
    before = order.snapshot()
    target = next_status(order.status, action)
    order.status = target
    setattr(order, TIMESTAMP_FOR_STATUS[target], utcnow())
    # The reason belongs to the refusal or return it explains; moving on clears it.
    order.status_reason = reason
    order.version += 1
    after = order.snapshot()
    if reason:
        after["reason"] = reason
    if extra:
        after.update(extra)
    # written with the notifications by the one flush that ends notify_order_change
    add_event(
        session,
        actor,
        f"order.{action.value}",
        "order",
        order.id,
        before=before,
        after=after,
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
    )
    notify_order_change(session, order, action, actor)


def lock_order(session: Session, order: Order, expected_version: int | None = None) -> Order:
    """Re-read the order under a row lock, so that two requests cannot both move it.

    With `expected_version` (the version the person's page showed), an order that changed
    in the meantime is refused, so that nobody approves or accepts what they have not seen.
    """
    locked = session.scalars(
        select(Order)
        .where(Order.id == order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if expected_version is not None and expected_version != locked.version:
        raise Conflict(
            _l(
                "Order %(ref)s changed since you opened it. Look at it again, then decide.",
                ref=locked.reference,
            )
        )
    return locked


def require_action(actor: User, order: Order, action: OrderAction) -> None:
    next_status(order.status, action)  # an illegal state is a 409, whoever asks
    if not can_act(actor, order, action):
        raise PermissionDenied(_l("You are not allowed to do this to this order."))


def checkout(
    session: Session,
    user: User,
    order_ids: list[int],
    details: CheckoutDetails,
    rules: OrderRules,
    *,
    now: datetime | None = None,
) -> list[Order]:
    """Submit the given cart orders together, committing each total on the budget line.

    All or nothing: if one order fails a check or the budget cannot cover them all, the
    caller rolls back and nothing is submitted. A repeated submission finds the orders no
    longer in the cart and is refused, so a double click creates one commitment.
    """
    now = now or utcnow()
    if not order_ids:
        raise DomainError(_l("Your cart is empty."))
    if not details.activity_name.strip():
        raise DomainError(_l("Enter the activity name."), field="activity_name")
    if not details.delivery_address.strip():
        raise DomainError(_l("Enter the delivery address."), field="delivery_address")
    if not details.delivery_district.strip():
        raise DomainError(
            _l("Enter the district of the delivery address."), field="delivery_district"
        )
    if details.headcount is not None and details.headcount < 0:
        raise DomainError(_l("The headcount cannot be negative."), field="headcount")
    if delivery_moment(details) <= now:
        raise DomainError(_l("The delivery time must be in the future."), field="delivery_date")
    if not details.recipient_name.strip() or not details.recipient_phone.strip():
        raise DomainError(
            _l("Name the person who receives the delivery, with a phone number."),
            field="recipient_name",
        )
    if details.delivery_until is not None and details.delivery_until <= details.delivery_time:
        raise DomainError(_l("The window must end after it starts."), field="delivery_until")
    line = session.get(BudgetLine, details.budget_line_id)
    if line is None or not has_permission(user, "order:submit", agency_id=line.agency_id):
        raise DomainError(_l("Choose one of your agency's budget lines."), field="budget_line_id")
    if line.closed_at is not None:
        raise DomainError(
            _l("The fiscal year of this budget line is closed; choose another line."),
            field="budget_line_id",
        )
    if line.frozen:
        raise DomainError(
            _l("This budget line is frozen; choose another line."), field="budget_line_id"
        )

    orders = _lock_cart_orders(session, user, order_ids)
    for order in orders:
        if order.status is not OrderStatus.CART:
            raise Conflict(_l("Order %(ref)s has already been submitted.", ref=order.reference))
        if order.agency_id != line.agency_id:
            raise DomainError(
                _l("Choose one of your agency's budget lines."), field="budget_line_id"
            )

    request_number = f"RQ-{now.astimezone(JAKARTA).year}-{orders[0].id:06d}"
    # The checks read nothing these changes affect: each order is written once, below.
    with session.no_autoflush:
        for order in orders:
            require_action(user, order, OrderAction.SUBMIT)
            for order_line in order.lines:  # the price at the time of ordering is kept
                _copy_product_terms(order_line)
            order.recompute_total()
            check_order_can_be_submitted(order, details, rules, now)
            check_delivery_in_fiscal_year(details, line)
            check_vendor_can_deliver(session, order, details, now)
            order.number = f"EO-{now.astimezone(JAKARTA).year}-{order.id:06d}"
            order.request_number = request_number
            order.budget_line_id = line.id
            order.activity_name = details.activity_name.strip()
            order.delivery_date = details.delivery_date
            order.delivery_time = details.delivery_time
            order.delivery_until = details.delivery_until
            order.recipient_name = details.recipient_name.strip()
            order.recipient_phone = details.recipient_phone.strip()
            order.delivery_address = details.delivery_address.strip()
            order.delivery_district = " ".join(details.delivery_district.split()).title()
            order.portions = order_portions(order)
            order.headcount = details.headcount
            order.notes = details.notes.strip()
            threshold = order.agency.second_approval_threshold or rules.second_approval_threshold
            order.needs_second_approval = order.total > threshold
            order.justification = details.justification.strip()
            check_standard_unit_costs(session, order)
    if sum(order.total for order in orders) > line.available:
        # Refused before anything is written; the guarded UPDATE below still decides.
        raise InsufficientBudget(_l("Not enough budget left on %(code)s.", code=line.account_code))
    for order in orders:
        transition_order(session, order, OrderAction.SUBMIT, user)
        flag_possible_split(session, order, rules)
    # The budget last: its guarded UPDATE locks the line's row until the transaction
    # commits, so every other order charged to the line waits only for this commit.
    for order in orders:
        ledger.commit(session, line, order.total, actor=user, order_id=order.id)
    if details.save_address_as.strip():
        save_agency_address(
            session,
            line.agency_id,
            details.save_address_as,
            details.delivery_address,
            details.delivery_district,
        )
    return orders


def _copy_product_terms(order_line: OrderLine) -> None:
    """The product's price, name and unit onto the line, each only where it changed since
    the line was added: a line left as it was is not written again."""
    product = order_line.product
    if order_line.unit_price != product.price:
        order_line.unit_price = product.price
    if order_line.product_name != product.name:
        order_line.product_name = product.name
    if order_line.unit != product.unit:
        order_line.unit = product.unit


@cache
def _cart_lock_query() -> Select[tuple[Order]]:
    """The orders of :ids under row locks, with their vendors (and lines); built once."""
    return (
        select(Order)
        .where(Order.id.in_(bindparam("ids", expanding=True)))
        .order_by(Order.id)
        .options(*_WITH_VENDOR_AND_LINES)
        .with_for_update(of=Order)
        .execution_options(populate_existing=True)
    )


def _lock_cart_orders(session: Session, user: User, order_ids: list[int]) -> list[Order]:
    """The user's orders of `order_ids` under row locks, read fresh in one statement with
    their vendor, and their lines with the products in one more.

    The lines are read by a statement of their own, after the locks are granted: on
    PostgreSQL a locking SELECT that waited re-reads only the rows it locks, so lines joined
    to it would be those from before a concurrent change to the cart (a quantity changed in
    another tab) that held the order's lock."""
    wanted = sorted(set(order_ids))
    orders = list(session.scalars(_cart_lock_query(), {"ids": wanted}).unique())
    if [order.id for order in orders] != wanted or any(
        order.requester_id != user.id for order in orders
    ):
        raise NotFound(_l("No such order."))
    return orders


def saved_addresses(session: Session, agency_id: int) -> list[AgencyAddress]:
    return list(
        session.scalars(
            select(AgencyAddress)
            .where(AgencyAddress.agency_id == agency_id)
            .order_by(AgencyAddress.label)
        )
    )


def save_agency_address(
    session: Session, agency_id: int, label: str, address: str, district: str
) -> AgencyAddress:
    """Keep (or update) an address under a label for the agency's next orders."""
    label = " ".join(label.split())[:100]
    saved = session.scalar(
        select(AgencyAddress).where(
            AgencyAddress.agency_id == agency_id, AgencyAddress.label == label
        )
    )
    if saved is None:
        saved = AgencyAddress(agency_id=agency_id, label=label)
        session.add(saved)
    saved.address = address.strip()
    saved.district = " ".join(district.split()).title()
    session.flush()
    return saved


# Lifecycle ---------------------------------------------------------------------------


def release_commitment(session: Session, order: Order, actor: User | None, reason: str) -> None:
    if order.budget_line is not None and order.total > 0:
        ledger.release(
            session, order.budget_line, order.total, actor=actor, order_id=order.id, reason=reason
        )


def approve_order(session: Session, actor: User, order: Order, version: int | None = None) -> Order:
    order = lock_order(session, order, version)
    require_action(actor, order, OrderAction.APPROVE)
    if order.approved_by_id is None:
        order.approved_by_id = actor.id
        if order.needs_second_approval:
            # First of two approvals: the order waits for the budget holder.
            order.version += 1
            session.flush()
            record_event(
                session,
                actor,
                "order.approve_first",
                "order",
                order.id,
                after=order.snapshot(),
                agency_id=order.agency_id,
                vendor_id=order.vendor_id,
            )
            notify_order_change(session, order, OrderAction.APPROVE, actor)
            return order
    else:
        order.second_approved_by_id = actor.id
    transition_order(session, order, OrderAction.APPROVE, actor)
    return order


def require_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Give a reason."), field="reason")
    return reason


def return_order(
    session: Session, actor: User, order: Order, reason: str, version: int | None = None
) -> Order:
    """Send the order back to the requester for changes; the budget stays committed."""
    order = lock_order(session, order, version)
    require_action(actor, order, OrderAction.RETURN)
    reason = require_reason(reason)
    order.approved_by_id = None
    order.second_approved_by_id = None
    transition_order(session, order, OrderAction.RETURN, actor, reason=reason)
    return order


@dataclass(frozen=True)
class OrderChange:
    """New quantities per line id (0 removes the line) and a new delivery moment."""

    quantities: dict[int, int]
    delivery_date: date
    delivery_time: time


def change_order(
    session: Session,
    actor: User,
    order: Order,
    change: OrderChange,
    rules: OrderRules,
    *,
    now: datetime | None = None,
) -> Order:
    """Change quantities or the delivery moment before the vendor accepts.

    The order goes back to approval from the start, and its commitment moves by the
    difference in one transaction: a rise is committed (or refused when the line cannot
    cover it), a fall released.
    """
    now = now or utcnow()
    order = lock_order(session, order)
    require_action(actor, order, OrderAction.RESUBMIT)
    if set(change.quantities) != {line.id for line in order.lines}:
        raise DomainError(_l("Enter a quantity for every line."))
    for line in list(order.lines):
        quantity = change.quantities[line.id]
        if quantity == 0:
            order.lines.remove(line)
            continue
        _check_quantity(quantity)
        line.quantity = quantity
    if not order.lines:
        raise DomainError(_l("Keep at least one item, or cancel the order instead."))
    old_total = order.total
    order.recompute_total()
    details = CheckoutDetails(
        budget_line_id=order.budget_line_id or 0,
        activity_name=order.activity_name,
        delivery_date=change.delivery_date,
        delivery_time=change.delivery_time,
        delivery_address=order.delivery_address,
        headcount=order.headcount,
        delivery_district=order.delivery_district,
        justification=order.justification,
    )
    if delivery_moment(details) <= now:
        raise DomainError(_l("The delivery time must be in the future."), field="delivery_date")
    if order.delivery_until is not None and order.delivery_until <= change.delivery_time:
        order.delivery_until = None  # the old window no longer fits the new time
    order.delivery_date, order.delivery_time = change.delivery_date, change.delivery_time
    order.portions = order_portions(order)
    check_order_can_be_submitted(order, details, rules, now)
    if order.budget_line is not None:
        check_delivery_in_fiscal_year(details, order.budget_line)
    check_vendor_can_deliver(session, order, details, now)
    check_standard_unit_costs(session, order)
    threshold = order.agency.second_approval_threshold or rules.second_approval_threshold
    order.needs_second_approval = order.total > threshold
    order.approved_by_id = None
    order.second_approved_by_id = None
    budget_line = order.budget_line
    if budget_line is None:
        raise DomainError(_l("This order has no budget line."))
    if order.total > old_total:
        ledger.commit(session, budget_line, order.total - old_total, actor=actor, order_id=order.id)
    elif order.total < old_total:
        ledger.release(
            session,
            budget_line,
            old_total - order.total,
            actor=actor,
            order_id=order.id,
            reason="order changed",
        )
    transition_order(
        session, order, OrderAction.RESUBMIT, actor, extra={"previous_total": old_total}
    )
    flag_possible_split(session, order, rules)
    return order


def reject_order(
    session: Session, actor: User, order: Order, reason: str, version: int | None = None
) -> Order:
    order = lock_order(session, order, version)
    require_action(actor, order, OrderAction.REJECT)
    reason = require_reason(reason)
    release_commitment(session, order, actor, "rejected")
    transition_order(session, order, OrderAction.REJECT, actor, reason=reason)
    return order


def cancel_order(session: Session, actor: User, order: Order, reason: str = "") -> Order:
    order = lock_order(session, order)
    require_action(actor, order, OrderAction.CANCEL)
    release_commitment(session, order, actor, "cancelled")
    transition_order(session, order, OrderAction.CANCEL, actor, reason=reason.strip())
    return order


def accept_order(
    session: Session,
    actor: User,
    order: Order,
    version: int | None = None,
    rules: OrderRules | None = None,
    *,
    now: datetime | None = None,
) -> Order:
    order = lock_order(session, order, version)
    require_action(actor, order, OrderAction.ACCEPT)
    deadline = acceptance_deadline(order, rules or OrderRules())
    if deadline is not None and (now or utcnow()) >= deadline:
        raise Conflict(
            _l(
                "The time to answer order %(ref)s has passed; it expires and its budget is "
                "released.",
                ref=order.reference,
            )
        )
    if order.delivery_date is not None:  # orders accepted since submission count too
        check_capacity(session, order, order.delivery_date)
    transition_order(session, order, OrderAction.ACCEPT, actor)
    return order


def decline_order(
    session: Session, actor: User, order: Order, reason: str, version: int | None = None
) -> Order:
    order = lock_order(session, order, version)
    require_action(actor, order, OrderAction.DECLINE)
    reason = require_reason(reason)
    release_commitment(session, order, actor, "declined")
    transition_order(session, order, OrderAction.DECLINE, actor, reason=reason)
    return order


def reconcile_order(session: Session, actor: User, order: Order) -> Order:
    order = lock_order(session, order)
    require_action(actor, order, OrderAction.RECONCILE)
    transition_order(session, order, OrderAction.RECONCILE, actor)
    return order


# Expiry ------------------------------------------------------------------------------


def expire_unanswered_orders(
    session: Session, rules: OrderRules, *, now: datetime | None = None
) -> list[Order]:
    """Expire approved orders whose vendor did not answer in time. Safe to run repeatedly."""
    now = now or utcnow()
    expired = []
    for order in session.scalars(
        select(Order).where(Order.status == OrderStatus.APPROVED).order_by(Order.id)
    ):
        deadline = acceptance_deadline(order, rules)
        if deadline is not None and deadline <= now:
            order = lock_order(session, order)
            if order.status is not OrderStatus.APPROVED:
                continue
            release_commitment(session, order, None, "expired")
            transition_order(session, order, OrderAction.EXPIRE, None, reason="no answer in time")
            expired.append(order)
    return expired

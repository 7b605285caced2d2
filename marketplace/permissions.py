"""Named permissions and the `can_*` predicates that services enforce and templates reuse."""

from __future__ import annotations

from catalog.models import Vendor
from marketplace.accounts.models import AGENCY_ROLES, VENDOR_ROLES, Role, User
from marketplace.ordering.models import Order
from marketplace.ordering.states import TRANSITIONS, OrderAction, OrderStatus

#: what each role may do; checked against the role's scope (its agency or vendor)
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.VENDOR_OWNER: frozenset({"listing:manage", "order:fulfil", "order:view"}),
    Role.VENDOR_STAFF: frozenset({"listing:manage", "order:fulfil", "order:view"}),
    Role.REQUESTER: frozenset({"order:submit", "order:view", "budget:view"}),
    Role.APPROVER: frozenset(
        {"order:approve", "order:receive", "order:view", "budget:view", "document:correct"}
    ),
    Role.BUDGET_HOLDER: frozenset(
        {"order:approve_second", "order:view", "budget:view", "budget:manage"}
    ),
    Role.TREASURER: frozenset({"order:pay", "order:view", "budget:view", "finance:view"}),
    Role.FINANCE: frozenset(
        {
            "order:reconcile",
            "order:view",
            "budget:view",
            "finance:view",
            "finance:explain",
            "period:close",
        }
    ),
    Role.CURATOR: frozenset(
        {
            "vendor:verify",
            "user:manage",
            "order:resolve",
            "order:view",
            "catalog:curate",
            "tax:manage",
            "document:correct",
        }
    ),
    Role.AUDITOR: frozenset({"order:view", "budget:view", "audit:view", "finance:view"}),
}


def has_permission(
    user: User, permission: str, *, agency_id: int | None = None, vendor_id: int | None = None
) -> bool:
    """True when one of the user's memberships grants `permission` in the given scope.

    Province-wide roles apply everywhere; agency and vendor roles only in their own tenant.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    for membership in user.memberships:
        if permission not in ROLE_PERMISSIONS[membership.role]:
            continue
        if membership.role in AGENCY_ROLES:
            if agency_id is not None and membership.agency_id == agency_id:
                return True
        elif membership.role in VENDOR_ROLES:
            if vendor_id is not None and membership.vendor_id == vendor_id:
                return True
        else:
            return True
    return False


def has_any_permission(user: User, permission: str) -> bool:
    """True when the user holds `permission` somewhere (for menus and landing pages)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return any(permission in ROLE_PERMISSIONS[m.role] for m in user.memberships)


def can_view_order(user: User, order: Order) -> bool:
    if order.status is OrderStatus.CART:
        return getattr(user, "id", None) == order.requester_id
    return has_permission(user, "order:view", agency_id=order.agency_id, vendor_id=order.vendor_id)


def can_manage_listings(user: User, vendor: Vendor) -> bool:
    return has_permission(user, "listing:manage", vendor_id=vendor.id)


def can_approve(user: User, order: Order) -> bool:
    """The approver (PPK) approves first; above the threshold the budget holder second.

    Nobody approves an order they placed, and the two approvals come from two people.
    """
    if order.status is not OrderStatus.SUBMITTED or user.id == order.requester_id:
        return False
    if order.approved_by_id is None:
        return has_permission(user, "order:approve", agency_id=order.agency_id)
    return (
        order.needs_second_approval
        and order.second_approved_by_id is None
        and user.id != order.approved_by_id
        and has_permission(user, "order:approve_second", agency_id=order.agency_id)
    )


def can_reject(user: User, order: Order) -> bool:
    return can_approve(user, order)


def can_cancel(user: User, order: Order) -> bool:
    return user.id == order.requester_id and has_permission(
        user, "order:submit", agency_id=order.agency_id
    )


def can_fulfil(user: User, order: Order) -> bool:
    return has_permission(user, "order:fulfil", vendor_id=order.vendor_id)


def can_receive(user: User, order: Order) -> bool:
    return has_permission(user, "order:receive", agency_id=order.agency_id)


def can_resolve(user: User, order: Order) -> bool:
    return has_permission(user, "order:resolve")


def can_pay(user: User, order: Order) -> bool:
    return has_permission(user, "order:pay", agency_id=order.agency_id)


def can_reconcile(user: User, order: Order) -> bool:
    return has_permission(user, "order:reconcile")


#: orders whose delivery is behind them: documents exist, the vendor can be rated
RECEIVED_STATUSES = frozenset({OrderStatus.RECEIVED, OrderStatus.PAID, OrderStatus.RECONCILED})


def can_rate(user: User, order: Order) -> bool:
    """The requester rates the vendor once the order is received (one rating per order)."""
    return (
        order.status in RECEIVED_STATUSES
        and getattr(user, "id", None) == order.requester_id
        and has_permission(user, "order:submit", agency_id=order.agency_id)
    )


def can_correct_documents(user: User, order: Order) -> bool:
    """The agency's approver (who signs the BAST) or a curator issues a corrected version,
    before the order is paid: a paid invoice is settled against the version it was paid on."""
    return order.status is OrderStatus.RECEIVED and has_permission(
        user, "document:correct", agency_id=order.agency_id
    )


def can_download_accountability_bundle(user: User, order: Order) -> bool:
    """The SPJ bundle holds the agency's internal history: agency and province roles only."""
    return order.status in RECEIVED_STATUSES and has_permission(
        user, "order:view", agency_id=order.agency_id
    )


ACTION_PREDICATES = {
    OrderAction.SUBMIT: lambda user, order: (
        user.id == order.requester_id
        and has_permission(user, "order:submit", agency_id=order.agency_id)
    ),
    OrderAction.APPROVE: can_approve,
    OrderAction.REJECT: can_reject,
    OrderAction.CANCEL: can_cancel,
    OrderAction.ACCEPT: can_fulfil,
    OrderAction.DECLINE: can_fulfil,
    OrderAction.DELIVER: can_fulfil,
    OrderAction.RECEIVE: can_receive,
    OrderAction.DISPUTE: can_receive,
    OrderAction.RESOLVE_ACCEPT: can_resolve,
    OrderAction.RESOLVE_CANCEL: can_resolve,
    OrderAction.PAY: can_pay,
    OrderAction.RECONCILE: can_reconcile,
    OrderAction.RETURN: can_approve,
    OrderAction.RESUBMIT: can_cancel,
    # Expiry is done by the system's scheduled command, never by a person.
    OrderAction.EXPIRE: lambda user, order: False,
}


def can_act(user: User, order: Order, action: OrderAction) -> bool:
    """Whether the user may take `action` on the order now (role, tenant, state)."""
    if (order.status, action) not in TRANSITIONS:
        return False
    return bool(ACTION_PREDICATES[action](user, order))


def available_actions(user: User, order: Order) -> list[OrderAction]:
    return [action for action in OrderAction if can_act(user, order, action)]

"""Who is told what when an order moves: whoever has to act next, and the requester."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.accounts.models import Membership, Role, User
from marketplace.notifications.models import Notification
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderAction, OrderStatus

MESSAGES = {
    "order.approval_needed": _l("Order %(ref)s from %(agency)s waits for your approval."),
    "order.new_for_vendor": _l("New order %(ref)s from %(agency)s: accept or decline it."),
    "order.approved": _l("Your order %(ref)s is approved and sent to %(vendor)s."),
    "order.rejected": _l("Your order %(ref)s was rejected."),
    "order.returned": _l("Your order %(ref)s was returned for changes."),
    "order.accepted": _l("%(vendor)s accepted your order %(ref)s."),
    "order.declined": _l("%(vendor)s declined your order %(ref)s."),
    "order.expired": _l("Order %(ref)s expired: %(vendor)s did not answer in time."),
    "order.delivered": _l("Order %(ref)s was delivered: confirm receipt."),
    "order.received": _l("%(agency)s confirmed receipt of order %(ref)s."),
    "order.disputed": _l("Receipt of order %(ref)s was refused: resolve the dispute."),
    "order.paid": _l("Order %(ref)s was paid."),
    "order.cancelled": _l("Order %(ref)s was cancelled."),
}


def _agency_people(session: Session, agency_id: int, role: Role) -> list[int]:
    return list(
        session.scalars(
            select(Membership.user_id).where(
                Membership.agency_id == agency_id, Membership.role == role
            )
        )
    )


def _vendor_people(session: Session, vendor_id: int) -> list[int]:
    return list(
        session.scalars(select(Membership.user_id).where(Membership.vendor_id == vendor_id))
    )


def _curators(session: Session) -> list[int]:
    return list(session.scalars(select(Membership.user_id).where(Membership.role == Role.CURATOR)))


def recipients(session: Session, order: Order, action: OrderAction) -> list[tuple[str, list[int]]]:
    """(kind, user ids) for what just happened to the order."""
    requester = [order.requester_id]
    status = order.status
    if status is OrderStatus.SUBMITTED:
        if order.approved_by_id is None:
            approvers = _agency_people(session, order.agency_id, Role.APPROVER)
        else:  # first approval given: the budget holder is next
            approvers = _agency_people(session, order.agency_id, Role.BUDGET_HOLDER)
        others = [u for u in approvers if u not in (order.requester_id, order.approved_by_id)]
        return [("order.approval_needed", others)]
    table: dict[OrderStatus, list[tuple[str, list[int]]]] = {
        OrderStatus.APPROVED: [
            ("order.new_for_vendor", _vendor_people(session, order.vendor_id)),
            ("order.approved", requester),
        ],
        OrderStatus.REJECTED: [("order.rejected", requester)],
        OrderStatus.RETURNED: [("order.returned", requester)],
        OrderStatus.ACCEPTED: [("order.accepted", requester)],
        OrderStatus.DECLINED: [("order.declined", requester)],
        OrderStatus.EXPIRED: [("order.expired", requester)],
        OrderStatus.DELIVERED: [
            ("order.delivered", _agency_people(session, order.agency_id, Role.APPROVER))
        ],
        OrderStatus.RECEIVED: [("order.received", _vendor_people(session, order.vendor_id))],
        OrderStatus.DISPUTED: [("order.disputed", _curators(session))],
        OrderStatus.PAID: [("order.paid", _vendor_people(session, order.vendor_id))],
        OrderStatus.CANCELLED: [("order.cancelled", _vendor_people(session, order.vendor_id))]
        if order.approved_at is not None
        else [],
    }
    return table.get(status, [])


def notify_order_change(
    session: Session, order: Order, action: OrderAction, actor: User | None
) -> None:
    """Write the notifications in the same transaction as the change they describe."""
    actor_id = actor.id if actor is not None else None
    for kind, user_ids in recipients(session, order, action):
        for user_id in dict.fromkeys(user_ids):
            if user_id != actor_id:  # nobody is told what they just did themselves
                session.add(Notification(user_id=user_id, kind=kind, order_id=order.id))
    session.flush()


def unread_count(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def latest(session: Session, user: User, limit: int = 50) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


def mark_all_read(session: Session, user: User) -> None:
    session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )


def message(notification: Notification) -> str:
    order = notification.order
    template = MESSAGES.get(notification.kind)
    if template is None or order is None:
        return notification.kind
    return str(template) % {
        "ref": order.reference,
        "agency": order.agency.name,
        "vendor": order.vendor.trading_name,
    }

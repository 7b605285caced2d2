"""Who is told what when an order moves: whoever has to act next, and the requester; in the
app always, and by e-mail as each person chose (at once, in the daily digest, or not)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import has_app_context
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload

from catalog.db import utcnow
from marketplace.accounts.models import Membership, Role, User
from marketplace.notifications.emails import notification_email, sentence
from marketplace.notifications.kinds import KINDS, default_delivery
from marketplace.notifications.models import Delivery, Notification, NotificationPreference
from marketplace.notifications.outbox import queue_email
from marketplace.notifications.preferences import delivery_for
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderAction, OrderStatus

log = logging.getLogger(__name__)

#: the in-app sentence of each kind (see kinds.KINDS)
MESSAGES = {name: kind.message for name, kind in KINDS.items()}


def agency_people(session: Session, agency_id: int, role: Role) -> list[int]:
    return list(
        session.scalars(
            select(Membership.user_id).where(
                Membership.agency_id == agency_id, Membership.role == role
            )
        )
    )


def vendor_people(session: Session, vendor_id: int) -> list[int]:
    return list(
        session.scalars(select(Membership.user_id).where(Membership.vendor_id == vendor_id))
    )


def curators(session: Session) -> list[int]:
    return list(session.scalars(select(Membership.user_id).where(Membership.role == Role.CURATOR)))


def recipients(session: Session, order: Order, action: OrderAction) -> list[tuple[str, list[int]]]:
    """(kind, user ids) for what just happened to the order."""
    status = order.status

    def requester() -> list[int]:
        return [order.requester_id]

    if status is OrderStatus.SUBMITTED:
        if order.approved_by_id is None:
            next_up = agency_people(session, order.agency_id, Role.APPROVER)
        else:  # first approval given: the budget holder is next
            next_up = agency_people(session, order.agency_id, Role.BUDGET_HOLDER)
        others = [u for u in next_up if u not in (order.requester_id, order.approved_by_id)]
        return [("order.approval_needed", others)]

    def vendor() -> list[int]:
        return vendor_people(session, order.vendor_id)

    def approvers() -> list[int]:
        return agency_people(session, order.agency_id, Role.APPROVER)

    # Who hears of each status; the people are looked up only for the status reached.
    table: dict[OrderStatus, list[tuple[str, Callable[[], list[int]]]]] = {
        OrderStatus.APPROVED: [("order.new_for_vendor", vendor), ("order.approved", requester)],
        OrderStatus.REJECTED: [("order.rejected", requester)],
        OrderStatus.RETURNED: [("order.returned", requester)],
        OrderStatus.ACCEPTED: [("order.accepted", requester)],
        OrderStatus.DECLINED: [("order.declined", requester)],
        OrderStatus.EXPIRED: [("order.expired", requester)],
        OrderStatus.DELIVERED: [("order.delivered", approvers)],
        OrderStatus.RECEIVED: [("order.received", vendor)],
        OrderStatus.DISPUTED: [
            ("order.disputed", lambda: curators(session)),
            ("order.receipt_refused", vendor),
        ],
        OrderStatus.PAID: [("order.paid", vendor)],
        # the vendor hears of a cancellation only if the order had reached them
        OrderStatus.CANCELLED: [("order.cancelled", vendor)] if order.approved_at else [],
    }
    return [(kind, people()) for kind, people in table.get(status, [])]


def notify_order_change(
    session: Session, order: Order, action: OrderAction, actor: User | None
) -> None:
    """Write the notifications, and queue the e-mails, in the same transaction as the
    change they describe: a change rolled back tells nobody anything."""
    actor_id = actor.id if actor is not None else None
    # Who is told depends on memberships and choices, which the change does not touch: the
    # change is written with the notifications by the flush at the end, in one go.
    with session.no_autoflush:
        told = [
            # nobody is told what they just did themselves
            (kind, [user_id for user_id in dict.fromkeys(user_ids) if user_id != actor_id])
            for kind, user_ids in recipients(session, order, action)
        ]
        everybody = {user_id for _, user_ids in told for user_id in user_ids}
        users, chosen = _people_and_choices(session, everybody, {kind for kind, _ in told})
    for kind, user_ids in told:
        for user_id in user_ids:
            user = users.get(user_id)
            if user is not None:
                delivery = chosen.get((user_id, kind), default_delivery(kind))
                _notify(session, user, kind, order, None, None, delivery)
    session.flush()


def _people_and_choices(
    session: Session, user_ids: set[int], kinds: set[str]
) -> tuple[dict[int, User], dict[tuple[int, str], Delivery]]:
    """The people, and their e-mail choices for `kinds`, in one statement whatever their number."""
    if not user_ids:
        return {}, {}
    rows = session.execute(
        select(User, NotificationPreference.kind, NotificationPreference.delivery)
        .outerjoin(
            NotificationPreference,
            (NotificationPreference.user_id == User.id) & NotificationPreference.kind.in_(kinds),
        )
        .where(User.id.in_(user_ids))
        .options(lazyload(User.memberships))
    ).all()
    users = {user.id: user for user, _, _ in rows}
    chosen = {(user.id, kind): delivery for user, kind, delivery in rows if kind is not None}
    return users, chosen


def notify_user(
    session: Session,
    user: User,
    kind: str,
    *,
    order: Order | None = None,
    facts: Callable[[], list[tuple[str, str]]] | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Tell one person: an in-app notification, and an e-mail now if they want this kind
    at once (the daily digest picks up the others from the notifications).

    `facts` adds lines to the e-mail (e.g. a deadline), in the recipient's language. The
    e-mail needs the application (templates, translations); without an application
    context, as in a bare script, only the in-app notification is written.
    """
    notification = _notify(
        session, user, kind, order, facts, dedupe_key, delivery_for(session, user.id, kind)
    )
    session.flush()
    return notification


def _notify(
    session: Session,
    user: User,
    kind: str,
    order: Order | None,
    facts: Callable[[], list[tuple[str, str]]] | None,
    dedupe_key: str | None,
    delivery: Delivery,
) -> Notification:
    """`notify_user` with the person's delivery choice known, without flushing."""
    notification = Notification(
        user_id=user.id, kind=kind, order_id=order.id if order is not None else None
    )
    session.add(notification)
    if delivery is Delivery.IMMEDIATE:
        if has_app_context():
            email = notification_email(user, kind, order=order, facts=facts)
            queue_email(
                session, user, kind, email.subject, email.text, email.html, dedupe_key, flush=False
            )
        else:
            log.debug("no application context: %s to user %s not e-mailed", kind, user.id)
    return notification


def already_notified(session: Session, user_id: int, kind: str, order_id: int | None) -> bool:
    """Whether the person already has this kind of notification about the order."""
    query = select(Notification.id).where(
        Notification.user_id == user_id, Notification.kind == kind
    )
    if order_id is None:
        query = query.where(Notification.order_id.is_(None))
    else:
        query = query.where(Notification.order_id == order_id)
    return bool(session.scalar(select(exists(query))))


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
            .options(
                selectinload(Notification.order).options(
                    joinedload(Order.agency), joinedload(Order.vendor)
                )
            )
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
    """The notification's sentence in the reader's language."""
    return sentence(notification.kind, notification.order)

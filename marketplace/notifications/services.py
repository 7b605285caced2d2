"""Who is told what when an order moves: whoever has to act next, and the requester; in the
app always, and by e-mail as each person chose (at once, in the daily digest, or not)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import has_app_context
from sqlalchemy import (
    Select,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload

from catalog.db import utcnow
from marketplace.accounts.models import Membership, Role, User
from marketplace.notifications.emails import RenderedEmail, notification_email, sentence
from marketplace.notifications.kinds import KINDS, default_delivery
from marketplace.notifications.models import Delivery, Notification, NotificationPreference
from marketplace.notifications.outbox import email_row, queue_email, queue_emails
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


@dataclass(frozen=True)
class Audience:
    """The people one kind of notification goes to: some users by id (`users`), a vendor's
    people (`vendor_id`), the holders of a role in an agency (`agency_id` and `role`) but
    not the people in `users`, or everybody holding a province role (`role` alone)."""

    users: tuple[int, ...] = ()
    vendor_id: int | None = None
    agency_id: int | None = None
    role: Role | None = None

    @property
    def shape(self) -> tuple[str, Role | None, bool]:
        """What the statement looks like; the ids are its parameters."""
        if self.vendor_id is not None:
            return ("vendor", None, False)
        if self.agency_id is not None:
            return ("agency", self.role, bool(self.users))
        if self.role is not None:
            return ("province", self.role, False)
        return ("users", None, True)


def recipients(order: Order) -> list[tuple[str, Audience]]:
    """(kind, people) for the status the order reached."""
    status = order.status
    requester = Audience(users=(order.requester_id,))
    vendor = Audience(vendor_id=order.vendor_id)
    if status is OrderStatus.SUBMITTED:
        # the approver first; once the first approval is given, the budget holder
        role = Role.APPROVER if order.approved_by_id is None else Role.BUDGET_HOLDER
        not_them = tuple(u for u in (order.requester_id, order.approved_by_id) if u is not None)
        approvers = Audience(users=not_them, agency_id=order.agency_id, role=role)
        return [("order.approval_needed", approvers)]
    table: dict[OrderStatus, list[tuple[str, Audience]]] = {
        OrderStatus.APPROVED: [("order.new_for_vendor", vendor), ("order.approved", requester)],
        OrderStatus.REJECTED: [("order.rejected", requester)],
        OrderStatus.RETURNED: [("order.returned", requester)],
        OrderStatus.ACCEPTED: [("order.accepted", requester)],
        OrderStatus.DECLINED: [("order.declined", requester)],
        OrderStatus.EXPIRED: [("order.expired", requester)],
        OrderStatus.DELIVERED: [
            ("order.delivered", Audience(agency_id=order.agency_id, role=Role.APPROVER))
        ],
        OrderStatus.RECEIVED: [("order.received", vendor)],
        OrderStatus.DISPUTED: [
            ("order.disputed", Audience(role=Role.CURATOR)),
            ("order.receipt_refused", vendor),
        ],
        OrderStatus.PAID: [("order.paid", vendor)],
        # the vendor hears of a cancellation only if the order had reached them
        OrderStatus.CANCELLED: [("order.cancelled", vendor)] if order.approved_at else [],
    }
    return table.get(status, [])


def notify_order_change(
    session: Session, order: Order, action: OrderAction, actor: User | None
) -> None:
    """Write the notifications, and queue the e-mails, in the same transaction as the
    change they describe: a change rolled back tells nobody anything."""
    told = recipients(order)
    if told:
        # Who is told depends on memberships and choices, which the change does not touch:
        # the change itself is written by the flush below, after the notifications.
        with session.no_autoflush:
            people = _people_and_choices(session, told, actor.id if actor is not None else None)
        _tell(session, order, people)
    session.flush()


def _tell(session: Session, order: Order, people: list[tuple[str, User, Delivery]]) -> None:
    """The in-app notifications of `people` about the order, and the e-mails of those who
    want theirs at once: one INSERT of each, written at once. Nothing reads them back in
    this transaction, so they are rows, not objects the session keeps and flushes."""
    now = utcnow()
    notifications = [
        {"user_id": user.id, "kind": kind, "order_id": order.id, "created_at": now}
        for kind, user, _ in people
    ]
    emails = []
    for kind, user, delivery in people:
        email = _email_now(user, kind, order, None, delivery)
        if email is not None:
            row = email_row(user, kind, email.subject, email.text, email.html)
            if row is not None:
                emails.append(row)
    if notifications:
        session.connection().execute(insert(Notification), notifications)
    queue_emails(session, emails)


def _people_and_choices(
    session: Session, told: list[tuple[str, Audience]], actor_id: int | None
) -> list[tuple[str, User, Delivery]]:
    """(kind, person, their e-mail choice for it) for everybody `told` names, in one statement
    whatever their number, each person once per kind, in the order of `told` and of their ids;
    nobody is told what they just did themselves."""
    shape = tuple((kind, audience.shape) for kind, audience in told)
    values: dict[str, object] = {}
    for n, (_kind, audience) in enumerate(told):
        who, _role, with_users = audience.shape
        if with_users:
            values[f"users_{n}"] = list(audience.users)
        if who in ("vendor", "agency"):
            values[f"of_{n}"] = audience.vendor_id if who == "vendor" else audience.agency_id
    if actor_id is not None:
        values["actor"] = actor_id
    position = {kind: n for n, (kind, _) in enumerate(told)}
    people: dict[tuple[str, int], tuple[str, User, Delivery]] = {}
    query = _people_query(shape, actor_id is not None)
    for user, kind, delivery in session.execute(query, values):
        people[(kind, user.id)] = (kind, user, delivery or default_delivery(kind))
    return [people[key] for key in sorted(people, key=lambda key: (position[key[0]], key[1]))]


@cache
def _people_query(
    shape: tuple[tuple[str, tuple[str, Role | None, bool]], ...], without_actor: bool
) -> Select[Any]:
    """The statement of `_people_and_choices` for one shape of `told`, built once: part n
    reads its people from :users_n (ids) or :of_n (a vendor or agency id); with
    `without_actor`, the person :actor is left out."""
    parts = []
    for n, (kind, (who, role, with_users)) in enumerate(shape):
        label = literal(kind, String).label("kind")
        if who == "users":
            parts.append(
                select(label, User.id.label("user_id")).where(
                    User.id.in_(bindparam(f"users_{n}", expanding=True))
                )
            )
            continue
        if who == "vendor":
            condition = Membership.vendor_id == bindparam(f"of_{n}")
        elif who == "agency":
            condition = (Membership.agency_id == bindparam(f"of_{n}")) & (Membership.role == role)
            if with_users:
                condition &= Membership.user_id.not_in(bindparam(f"users_{n}", expanding=True))
        else:
            condition = Membership.role == role
        parts.append(select(label, Membership.user_id.label("user_id")).where(condition))
    named = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("told")
    query = (
        select(User, named.c.kind, NotificationPreference.delivery)
        .join(named, named.c.user_id == User.id)
        .outerjoin(
            NotificationPreference,
            (NotificationPreference.user_id == User.id)
            & (NotificationPreference.kind == named.c.kind),
        )
        .options(lazyload(User.memberships))
    )
    return query.where(User.id != bindparam("actor")) if without_actor else query


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
    email = _email_now(user, kind, order, facts, delivery_for(session, user.id, kind))
    notification = Notification(
        user_id=user.id, kind=kind, order_id=order.id if order is not None else None
    )
    session.add(notification)
    if email is not None:
        queue_email(session, user, kind, email.subject, email.text, email.html, dedupe_key)
    session.flush()
    return notification


def _email_now(
    user: User,
    kind: str,
    order: Order | None,
    facts: Callable[[], list[tuple[str, str]]] | None,
    delivery: Delivery,
) -> RenderedEmail | None:
    """The e-mail of a notification, if the person wants this kind at once."""
    if delivery is not Delivery.IMMEDIATE:
        return None
    if not has_app_context():
        log.debug("no application context: %s to user %s not e-mailed", kind, user.id)
        return None
    return notification_email(user, kind, order=order, facts=facts)


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

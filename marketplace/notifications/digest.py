"""The daily digest: one e-mail a day with the notifications a person chose to get that way."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.accounts.models import User
from marketplace.notifications.emails import digest_email
from marketplace.notifications.kinds import JAKARTA, default_delivery
from marketplace.notifications.models import Delivery, Notification, OutboxMessage
from marketplace.notifications.outbox import queue_email
from marketplace.notifications.preferences import chosen_deliveries

DIGEST_KIND = "digest"
#: a person's first digest covers the last day
FIRST_WINDOW = timedelta(days=1)
#: a digest never reaches further back than this, even after the job stopped for a while
LONGEST_WINDOW = timedelta(days=7)


def digest_key(user_id: int, now: datetime) -> str:
    return f"digest:{user_id}:{now.astimezone(JAKARTA).date().isoformat()}"


def queue_daily_digests(session: Session, now: datetime | None = None) -> int:
    """Queue today's digest for everyone with unread notifications they get by digest.

    Each digest holds what arrived since the person's previous digest (the first one: the
    last day), so nothing is told twice or skipped when the job runs at another hour.
    Running it twice on one day queues nothing more (one digest per person and day, in
    Jakarta time). Flushes, never commits. Returns the number of digests queued.
    """
    now = now or utcnow()
    floor = now - LONGEST_WINDOW
    user_ids = session.scalars(
        select(Notification.user_id)
        .where(
            Notification.read_at.is_(None),
            Notification.created_at > floor,
            Notification.created_at <= now,
        )
        .group_by(Notification.user_id)
        .order_by(Notification.user_id)
    ).all()
    queued = 0
    for user_id in user_ids:
        key = digest_key(user_id, now)
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
            continue
        user = session.get(User, user_id)
        if user is None or not user.active:
            continue
        previous = session.scalar(
            select(func.max(OutboxMessage.created_at)).where(
                OutboxMessage.user_id == user_id, OutboxMessage.kind == DIGEST_KIND
            )
        )
        start = previous if previous is not None and previous > floor else now - FIRST_WINDOW
        chosen = chosen_deliveries(session, user_id)
        notifications = [
            notification
            for notification in session.scalars(
                select(Notification)
                .where(
                    Notification.user_id == user_id,
                    Notification.read_at.is_(None),
                    Notification.created_at > start,
                    Notification.created_at <= now,
                )
                .order_by(Notification.created_at, Notification.id)
            )
            if chosen.get(notification.kind, default_delivery(notification.kind)) is Delivery.DIGEST
        ]
        if not notifications:
            continue
        email = digest_email(user, notifications)
        message = queue_email(
            session, user, DIGEST_KIND, email.subject, email.text, email.html, key, now=now
        )
        if message is not None:
            queued += 1
    return queued

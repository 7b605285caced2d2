"""Each person's choice of e-mail per kind of notification: at once, in the daily digest, or
not at all. Without a choice the kind's default applies."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.notifications.kinds import KINDS, Kind, default_delivery, kinds_for_roles
from marketplace.notifications.models import Delivery, NotificationPreference


def delivery_for(session: Session, user_id: int, kind: str) -> Delivery:
    chosen = session.get(NotificationPreference, (user_id, kind))
    return chosen.delivery if chosen is not None else default_delivery(kind)


def chosen_deliveries(session: Session, user_id: int) -> dict[str, Delivery]:
    """The person's explicit choices, by kind."""
    return {
        pref.kind: pref.delivery
        for pref in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user_id)
        )
    }


def kinds_of(user: User) -> list[Kind]:
    """The kinds the person can receive with the roles they hold."""
    return kinds_for_roles({membership.role for membership in user.memberships})


def current_choices(session: Session, user: User) -> list[tuple[Kind, Delivery]]:
    chosen = chosen_deliveries(session, user.id)
    return [(kind, chosen.get(kind.name, kind.default)) for kind in kinds_of(user)]


def save_choices(session: Session, user: User, choices: Mapping[str, str]) -> int:
    """Store the person's choices for the kinds they can receive; unknown kinds and values
    are ignored. Returns how many choices were stored. Flushes, never commits."""
    allowed = {kind.name for kind in kinds_of(user)}
    stored = 0
    for name, value in choices.items():
        if name not in allowed or name not in KINDS:
            continue
        try:
            delivery = Delivery(value)
        except ValueError:
            continue
        existing = session.get(NotificationPreference, (user.id, name))
        if existing is None:
            session.add(NotificationPreference(user_id=user.id, kind=name, delivery=delivery))
        else:
            existing.delivery = delivery
        stored += 1
    session.flush()
    return stored

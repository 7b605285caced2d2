"""Writing audit events, in the same transaction as the change they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.accounts.models import User
from marketplace.audit.models import AuditEvent


def record_event(
    session: Session,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    agency_id: int | None = None,
    vendor_id: int | None = None,
) -> AuditEvent:
    """Add the event and flush it."""
    event = add_event(
        session,
        actor,
        action,
        object_type,
        object_id,
        before=before,
        after=after,
        agency_id=agency_id,
        vendor_id=vendor_id,
    )
    session.flush()
    return event


def add_event(
    session: Session,
    actor: User | None,
    action: str,
    object_type: str,
    object_id: int,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    agency_id: int | None = None,
    vendor_id: int | None = None,
) -> AuditEvent:
    """Add the event to the session without flushing: the transaction's next flush writes it
    together with the rest of the change (and the events it holds in one INSERT). It is
    timed now, not when that flush comes."""
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        agency_id=agency_id,
        vendor_id=vendor_id,
    )
    session.add(event)
    return event


def events_for(session: Session, object_type: str, object_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    )

"""Audit events: who did what, when, to which object, with the state before and after.

Events are append-only. Each is sealed when its transaction commits: it gets the next
`chain_seq` and a hash over its content and the previous event's hash (see `audit.chain`),
so that changing, removing or reordering a sealed event breaks the chain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column, object_session, relationship

from catalog.db import Base, UTCDateTime, utcnow
from marketplace.accounts.models import User


class AuditTrailIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit event."""


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: indexed for the auditor's search by date
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: dotted name of what happened, e.g. "order.approve" or "budget.commit"
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int] = mapped_column(Integer)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: position in the chain (commit order); NULL until the transaction that wrote it commits
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True, index=True)
    #: hex SHA-256 of the previous event in the chain (64 zeros for the first)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    #: hex SHA-256 of prev_hash and this event's canonical content
    hash: Mapped[str | None] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship(lazy="joined")


class AuditChainHead(Base):
    """The one row that says where the chain ends; sealing locks it until commit."""

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper: Mapper[Any], _connection: Any, target: AuditEvent) -> None:
    session = object_session(target)
    if session is None or session.is_modified(target, include_collections=False):
        raise AuditTrailIsAppendOnly(f"audit event {target.id} cannot be changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper: Mapper[Any], _connection: Any, target: AuditEvent) -> None:
    raise AuditTrailIsAppendOnly(f"audit event {target.id} cannot be deleted")

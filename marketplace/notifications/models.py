"""Notifications: in-app ones (rendered when shown, in the reader's language), each
person's e-mail preferences, and the outbox of e-mails waiting to be sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, UTCDateTime, utcnow
from catalog.enums import enum_column
from marketplace.ordering.models import Order


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: what happened, e.g. "order.approve_needed"; the text comes from this and the order
    kind: Mapped[str] = mapped_column(String(60))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order | None] = relationship()


class Delivery(StrEnum):
    """How a person wants one kind of notification by e-mail (in-app ones always show)."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"
    NONE = "none"


class NotificationPreference(Base):
    """A person's e-mail choice for one kind of notification; absent means the default."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(60), primary_key=True)
    delivery: Mapped[Delivery] = mapped_column(enum_column(Delivery))


class OutboxMessage(Base):
    """An e-mail written in the same transaction as the change it tells about, sent later
    by `flask outbox send` with retries; a rolled-back change leaves no message."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "sent_at", "available_at"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: what the message is about, e.g. "order.approve_needed" or "digest"
    kind: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    #: makes a message unique (e.g. one digest per person and day); None when not needed
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: not sent before this time (retries back off)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: given up after too many attempts; kept for an operator to look at
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

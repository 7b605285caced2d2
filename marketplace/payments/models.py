"""Payments of received orders (treasury transfer or government card through Stripe),
refunds, the Stripe events that confirm them, and closed accounting periods."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, Money, UTCDateTime, utcnow
from catalog.enums import enum_column
from catalog.models import Vendor
from marketplace.accounts.models import Agency, User
from marketplace.ordering.models import Order


class PaymentRail(StrEnum):
    TRANSFER = "transfer"
    CARD = "card"

    @property
    def label(self) -> str:
        return str(
            {
                PaymentRail.TRANSFER: _l("Treasury transfer"),
                PaymentRail.CARD: _l("Government card (Stripe)"),
            }[self]
        )


class PaymentStatus(StrEnum):
    #: a card payment sent to Stripe's page, not yet confirmed by a signed webhook
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: the Stripe page was left unpaid until it expired
    EXPIRED = "expired"
    #: money was taken but not applied to the orders (they were paid another way, or the
    #: amount differs); finance decides, usually by refunding
    HELD = "held"

    @property
    def label(self) -> str:
        return str(
            {
                PaymentStatus.PENDING: _l("Waiting for confirmation"),
                PaymentStatus.SUCCEEDED: _l("Paid"),
                PaymentStatus.FAILED: _l("Failed"),
                PaymentStatus.EXPIRED: _l("Expired"),
                PaymentStatus.HELD: _l("Held for finance"),
            }[self]
        )


class Payment(Base):
    """One transfer or card charge to one vendor, covering one order or a batch."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee IS NULL OR fee >= 0", name="fee_non_negative"),
        # finance pages through each rail's payments, latest value date first
        Index("ix_payments_rail_paid_on", "rail", "paid_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rail: Mapped[PaymentRail] = mapped_column(enum_column(PaymentRail))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus), default=PaymentStatus.PENDING, index=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    #: rupiah paid to the vendor (the sum of the allocations)
    amount: Mapped[int] = mapped_column(Money)
    #: the value date of the transfer or the card charge (Jakarta)
    paid_on: Mapped[date | None] = mapped_column(Date, index=True)
    #: transfer: SP2D / bank reference; card: the Stripe charge id once known
    reference: Mapped[str] = mapped_column(String(100), default="", index=True)
    payer_account: Mapped[str] = mapped_column(String(100), default="")
    #: stored proof of transfer (generated file name), if uploaded
    proof_file: Mapped[str | None] = mapped_column(String(120))
    #: numbers of the tax withholding slips (bukti potong) issued with this payment
    withholding_slips: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: why less than the net payable was paid, when it was
    partial_reason: Mapped[str] = mapped_column(Text, default="")
    failure_reason: Mapped[str] = mapped_column(Text, default="")

    # Card payments through Stripe
    #: one key per payment attempt, sent with every request that creates something
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_balance_transaction_id: Mapped[str | None] = mapped_column(String(255))
    #: the vendor's connected Stripe account, when the charge was a destination charge
    destination_account: Mapped[str | None] = mapped_column(String(255))
    #: rupiah Stripe kept, and what reached the balance (from the balance transaction)
    fee: Mapped[int | None] = mapped_column(Money)
    net: Mapped[int | None] = mapped_column(Money)

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agency: Mapped[Agency] = relationship()
    vendor: Mapped[Vendor] = relationship()
    created_by: Mapped[User | None] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment",
        cascade="all, delete-orphan",
        order_by="PaymentAllocation.id",
        lazy="selectin",
    )

    @property
    def order_ids(self) -> list[int]:
        return [allocation.order_id for allocation in self.allocations]


class PaymentAllocation(Base):
    """The part of a payment that settles one order."""

    __tablename__ = "payment_allocations"
    __table_args__ = (
        UniqueConstraint("payment_id", "order_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    #: rupiah
    amount: Mapped[int] = mapped_column(Money)

    payment: Mapped[Payment] = relationship(back_populates="allocations")
    order: Mapped[Order] = relationship()


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(Base):
    """Money the vendor gives back on a payment (all or part of one order's share)."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    #: rupiah
    amount: Mapped[int] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus), default=RefundStatus.PENDING
    )
    #: transfer: the reference of the vendor's return transfer
    reference: Mapped[str] = mapped_column(String(100), default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    refunded_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    payment: Mapped[Payment] = relationship()
    order: Mapped[Order] = relationship()


class OrderPaymentTotals(Base):
    """Per-order payment totals as the previous release kept them. Nothing here reads or
    writes this table any more: the totals are on the order rows (`Order.paid_total` and
    the rest, kept by `marketplace.payments.totals`). It stays for one release so that nodes
    still running the previous release keep recording payments during a rolling upgrade;
    `flask payments rebuild-totals` then brings the order rows up to date, and a later
    migration drops the table."""

    __tablename__ = "order_payment_totals"
    __table_args__ = (
        CheckConstraint("paid >= 0", name="paid_non_negative"),
        CheckConstraint("refunded >= 0", name="refunded_non_negative"),
        CheckConstraint("payments >= 0", name="payments_non_negative"),
        CheckConstraint("full_payments >= 0", name="full_payments_non_negative"),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    paid: Mapped[int] = mapped_column(Money, default=0)
    refunded: Mapped[int] = mapped_column(Money, default=0)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    full_payments: Mapped[int] = mapped_column(Integer, default=0)
    last_paid_on: Mapped[date | None] = mapped_column(Date)


class StripeEvent(Base):
    """Each webhook event Stripe sent, stored once (its id is the key), and when applied."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    #: the event's `created`, as Stripe stamped it
    stripe_created: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    #: what applying it did ("payment 12 succeeded", "ignored: unknown session", an error)
    outcome: Mapped[str] = mapped_column(Text, default="")


class ClosedPeriod(Base):
    """A month finance has closed: nothing dated in it may change afterwards."""

    __tablename__ = "closed_periods"
    __table_args__ = (CheckConstraint("month >= 1 AND month <= 12", name="month_in_range"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    closed_by: Mapped[User] = relationship()


class ExplainedException(Base):
    """A reconciliation exception finance has looked into and explained."""

    __tablename__ = "explained_exceptions"
    __table_args__ = (UniqueConstraint("kind", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. "unpaid_past_due", "amount_mismatch"
    kind: Mapped[str] = mapped_column(String(40))
    #: what it is about, e.g. "order:12", "payment:7", "charge:ch_123"
    subject: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text)
    explained_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    explained_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    explained_by: Mapped[User] = relationship()

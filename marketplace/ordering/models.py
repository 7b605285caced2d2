"""Orders (one vendor each) and their lines, with a timestamp per lifecycle milestone."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, Money, UTCDateTime, utcnow
from catalog.models import Product, Unit, Vendor, enum_column
from marketplace.accounts.models import Agency, User
from marketplace.budgets.models import BudgetLine
from marketplace.ordering.states import OrderStatus


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total >= 0", name="total_non_negative"),
        CheckConstraint("received_total IS NULL OR received_total >= 0", name="received_total_ok"),
        CheckConstraint("headcount IS NULL OR headcount >= 0", name="headcount_non_negative"),
        # possible split purchases and the vendor's daily capacity look orders up this way
        Index("ix_orders_vendor_day", "vendor_id", "delivery_date", "agency_id"),
        # finance: paid orders to reconcile in order of payment, received orders by period
        Index("ix_orders_status_paid_at", "status", "paid_at", "id"),
        # (covering the spending and payment-timeliness reports' sums)
        Index(
            "ix_orders_status_received_at",
            "status",
            "received_at",
            "agency_id",
            "vendor_id",
            "received_total",
            "payment_count",
            "last_paid_on",
        ),
        # finance: each budget line's received orders and refunds summed from the index alone
        Index(
            "ix_orders_line_status_received",
            "budget_line_id",
            "status",
            "received_total",
            "refunded_total",
        ),
        # an agency's queues (waiting for approval, deliveries to confirm) by status, and
        # finance's per-agency figures and per-order checks read from the index alone
        Index(
            "ix_orders_agency_status",
            "agency_id",
            "status",
            "received_at",
            "received_total",
            "invoice_gross",
            "net_payable",
            "paid_total",
            "refunded_total",
            "payment_count",
            "full_payment_count",
            "last_paid_on",
            # (a PostgreSQL index points at the row, not its id: with the id, the counts
            # need no table read; SQLite keeps the row id in every index anyway)
            "id",
        ),
        CheckConstraint("invoice_gross IS NULL OR invoice_gross >= 0", name="invoice_gross_ok"),
        CheckConstraint("net_payable IS NULL OR net_payable >= 0", name="net_payable_ok"),
        CheckConstraint("paid_total >= 0", name="paid_total_non_negative"),
        CheckConstraint("refunded_total >= 0", name="refunded_total_non_negative"),
        CheckConstraint("payment_count >= 0", name="payment_count_non_negative"),
        CheckConstraint("full_payment_count >= 0", name="full_payment_count_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: human reference, e.g. EO-2026-000042; set at submission
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    #: shared by the orders created by one checkout
    request_number: Mapped[str | None] = mapped_column(String(30), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    budget_line_id: Mapped[int | None] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus), default=OrderStatus.CART, index=True
    )

    activity_name: Mapped[str] = mapped_column(String(200), default="")
    delivery_date: Mapped[date | None] = mapped_column(Date)
    #: the start of the delivery window; the vendor arrives between it and `delivery_until`
    delivery_time: Mapped[time | None] = mapped_column(Time)
    delivery_until: Mapped[time | None] = mapped_column(Time)
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    recipient_phone: Mapped[str] = mapped_column(String(30), default="")
    delivery_address: Mapped[str] = mapped_column(Text, default="")
    #: the district (kecamatan) of the address, checked against the vendor's service area
    delivery_district: Mapped[str] = mapped_column(String(100), default="")
    headcount: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")

    #: portions the vendor cooks for this order (quantity x portions per unit), at submission
    portions: Mapped[int] = mapped_column(Integer, default=0)
    #: rupiah; the sum of the lines at the ordered quantities
    total: Mapped[int] = mapped_column(Money, default=0)
    #: rupiah; the sum of the lines at the received quantities, set at receipt
    received_total: Mapped[int | None] = mapped_column(Money)

    # What finance sums per order, kept on the order so that its pages read one index
    # instead of finding every order's current invoice and payments. The invoice's amounts
    # are written when an invoice or its correction is issued (documents services); the
    # payment figures only grow, in the transaction that makes a payment or a refund
    # succeed (`marketplace.payments.totals`). `flask payments rebuild-totals` recomputes
    # all of them from the documents, payments and refunds.
    #: the current invoice's gross and net payable; NULL while the order has no invoice
    invoice_gross: Mapped[int | None] = mapped_column(Money)
    net_payable: Mapped[int | None] = mapped_column(Money)
    #: rupiah of the order's allocations of succeeded payments (before refunds)
    paid_total: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    #: rupiah of the order's succeeded refunds of succeeded payments (a held card charge's
    #: refund paid nothing back, so it is not counted)
    refunded_total: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    #: how many succeeded payments cover the order
    payment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: of those, how many were recorded without a partial-payment reason
    full_payment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the latest value date of those payments
    last_paid_on: Mapped[date | None] = mapped_column(Date)
    needs_second_approval: Mapped[bool] = mapped_column(default=False)
    #: the agency's orders to this vendor for this day add up beyond the split threshold
    possible_split: Mapped[bool] = mapped_column(default=False)
    #: why a line costs more per person than the standard unit cost of its category
    justification: Mapped[str] = mapped_column(Text, default="")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    second_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: why it was rejected, declined, cancelled, disputed
    status_reason: Mapped[str] = mapped_column(Text, default="")
    payment_reference: Mapped[str] = mapped_column(String(100), default="")
    #: the vendor's note when marking the order delivered
    delivery_note: Mapped[str] = mapped_column(Text, default="")
    #: when the vendor says the food was handed over (at or before marking it delivered)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the approver's finding at receipt: delivered within the agreed window or late
    on_time: Mapped[bool | None] = mapped_column()
    #: increases with every change, so that a stale form cannot overwrite a newer state
    version: Mapped[int] = mapped_column(Integer, default=1)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agency: Mapped[Agency] = relationship()
    vendor: Mapped[Vendor] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    second_approved_by: Mapped[User | None] = relationship(foreign_keys=[second_approved_by_id])
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    budget_line: Mapped[BudgetLine | None] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        order_by="OrderLine.id",
        lazy="selectin",
    )

    @property
    def reference(self) -> str:
        return self.number or f"#{self.id}"

    @property
    def charged_amount(self) -> int:
        """What the order costs the budget now: the received amount once received."""
        return self.received_total if self.received_total is not None else self.total

    def recompute_total(self) -> None:
        self.total = sum(line.line_total for line in self.lines)

    def snapshot(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "total": self.total,
            "received_total": self.received_total,
            "budget_line_id": self.budget_line_id,
            "version": self.version,
        }


class OrderLine(Base):
    """One product on an order, with the price and name as they were when ordered."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
        CheckConstraint(
            "quantity_received IS NULL"
            " OR (quantity_received >= 0 AND quantity_received <= quantity)",
            name="quantity_received_in_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    product_name: Mapped[str] = mapped_column(String(160))
    unit: Mapped[Unit] = mapped_column(enum_column(Unit))
    #: rupiah per unit at the time of ordering
    unit_price: Mapped[int] = mapped_column(Money)
    quantity: Mapped[int] = mapped_column(Integer)
    quantity_received: Mapped[int | None] = mapped_column(Integer)
    receipt_remark: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def received_line_total(self) -> int | None:
        if self.quantity_received is None:
            return None
        return self.unit_price * self.quantity_received


class ReceivedByCategory(Base):
    """What an order's receipt spent in one product category, with the agency and the moment
    of receipt: written once, with the receipt, so that the spending report sums one index
    by category (in its order) instead of joining every received line to its order and
    product."""

    __tablename__ = "received_by_category"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(
            "ix_received_by_category_report",
            "category_id",
            "received_at",
            "agency_id",
            "amount",
        ),
    )

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    #: the product's category when the delivery was received
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: rupiah of the order's lines of the category at the received quantities
    amount: Mapped[int] = mapped_column(Money)

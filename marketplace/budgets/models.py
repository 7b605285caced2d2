"""Budget lines (DPA account codes) and their ledger of allocations, commitments and spending."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, Money, UTCDateTime, utcnow
from catalog.models import enum_column
from marketplace.accounts.models import Agency

if TYPE_CHECKING:  # orders refer to budget lines, so the import would go in a circle
    from marketplace.ordering.models import Order


class BudgetLine(Base):
    """One line of an agency's budget for a fiscal year.

    The three totals are maintained only by the ledger service, always together with a
    ledger row, and the CHECK constraints make overspending impossible at the database level.
    """

    __tablename__ = "budget_lines"
    __table_args__ = (
        UniqueConstraint("agency_id", "fiscal_year", "account_code", name="uq_budget_lines_code"),
        CheckConstraint("allocation >= 0", name="allocation_non_negative"),
        CheckConstraint("committed >= 0", name="committed_non_negative"),
        CheckConstraint("spent >= 0", name="spent_non_negative"),
        CheckConstraint("allocation - committed - spent >= 0", name="available_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    account_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    activity: Mapped[str] = mapped_column(String(200), default="")
    #: rupiah
    allocation: Mapped[int] = mapped_column(Money, default=0)
    #: rupiah encumbered by submitted orders not yet received
    committed: Mapped[int] = mapped_column(Money, default=0)
    #: rupiah spent on received orders
    spent: Mapped[int] = mapped_column(Money, default=0)
    #: a frozen line takes no new commitments until it is unfrozen
    frozen: Mapped[bool] = mapped_column(default=False)
    #: set when the agency closes the fiscal year; a closed line never changes again
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    agency: Mapped[Agency] = relationship()

    @property
    def available(self) -> int:
        return self.allocation - self.committed - self.spent


class EntryKind(StrEnum):
    ALLOCATE = "allocate"
    REDUCE = "reduce"
    COMMIT = "commit"
    RELEASE = "release"
    SPEND = "spend"
    #: money a vendor gave back after payment returns to the line
    REFUND = "refund"

    @property
    def label(self) -> str:
        return str(
            {
                "allocate": _l("Allocation"),
                "reduce": _l("Allocation reduced"),
                "commit": _l("Commitment"),
                "release": _l("Release"),
                "spend": _l("Spending"),
                "refund": _l("Refund"),
            }[self.value]
        )


class BudgetEntry(Base):
    """One ledger row. Amounts are positive; the kind says which way the money moved."""

    __tablename__ = "budget_entries"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # finance sums each line's ledger from the index alone
        Index("ix_budget_entries_line_kind_amount", "budget_line_id", "kind", "amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_lines.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind))
    #: rupiah
    amount: Mapped[int] = mapped_column(Money)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    budget_line: Mapped[BudgetLine] = relationship()
    order: Mapped[Order | None] = relationship(lazy="joined")

    @property
    def reason_label(self) -> str:
        """The reason as a person reads it: system reasons are translated, typed ones kept."""
        label = SYSTEM_REASONS.get(self.reason)
        return str(label) if label is not None else self.reason


#: reasons the system writes on ledger rows, and how they read
SYSTEM_REASONS = {
    "rejected": _l("Order rejected"),
    "cancelled": _l("Order cancelled"),
    "declined": _l("Declined by the vendor"),
    "expired": _l("The vendor did not answer in time"),
    "not received": _l("Not received"),
    "order changed": _l("Order changed"),
    "dispute cancelled": _l("Cancelled after a dispute"),
    "refund": _l("Refunded by the vendor"),
}

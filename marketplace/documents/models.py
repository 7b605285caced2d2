"""Issued documents (BAST handover certificates and invoices) and their number counters.

An issued document is a frozen record of what was handed over and what is owed: the
content is stored as it was at issue and never changes. A correction is a new version
with the same number that points to the version it replaces.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
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
from catalog.enums import enum_column
from marketplace.accounts.models import User
from marketplace.ordering.models import Order


class DocumentKind(StrEnum):
    BAST = "bast"
    INVOICE = "invoice"

    @property
    def label(self) -> str:
        return str(
            {
                DocumentKind.BAST: _l("Handover certificate (BAST)"),
                DocumentKind.INVOICE: _l("Invoice"),
            }[self]
        )

    @property
    def prefix(self) -> str:
        return {DocumentKind.BAST: "BAST", DocumentKind.INVOICE: "INV"}[self]


class DocumentCounter(Base):
    """The last number issued per agency, year and kind. Bumped by a guarded UPDATE in the
    issuing transaction, so numbers have no gaps (a rollback returns the number) and no
    duplicates (the row lock serialises concurrent receipts)."""

    __tablename__ = "document_counters"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number_ok"),)

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class IssuedDocument(Base):
    __tablename__ = "issued_documents"
    __table_args__ = (
        UniqueConstraint("agency_id", "kind", "year", "sequence", "version"),
        CheckConstraint("sequence > 0", name="sequence_positive"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("gross IS NULL OR gross >= 0", name="gross_ok"),
        CheckConstraint("charged_total IS NULL OR charged_total >= 0", name="charged_total_ok"),
        CheckConstraint("withheld_total IS NULL OR withheld_total >= 0", name="withheld_total_ok"),
        CheckConstraint("net_payable IS NULL OR net_payable >= 0", name="net_payable_ok"),
        # An order's current invoice and its amounts, read from the index alone: the finance
        # pages join every paid order to it (the content is ~2 KB a row).
        Index(
            "ix_issued_documents_order_kind_amounts",
            "order_id",
            "kind",
            "id",
            "net_payable",
            "gross",
            "withheld_total",
            "charged_total",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    #: the place in the agency's series for the year: 1, 2, 3, ... without gaps
    sequence: Mapped[int] = mapped_column(Integer)
    #: e.g. BAST/DINKES/2026/00012; a correction keeps the number and raises the version
    number: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("issued_documents.id"), unique=True
    )
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    #: everything the document shows, as it was when issued
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: SHA-256 of the canonical JSON of `content`, so that any later change shows
    content_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The invoice's amounts, copied from `content` at issue (the same figures, never
    # changed) so that finance sums them without reading the JSON. None on a BAST.
    #: rupiah the buyer pays: the received total, taxes charged included
    gross: Mapped[int | None] = mapped_column(Money)
    #: rupiah of taxes the vendor charges on top of the base (PPN, PB1)
    charged_total: Mapped[int | None] = mapped_column(Money)
    #: rupiah of taxes withheld from the vendor's payment (PPh)
    withheld_total: Mapped[int | None] = mapped_column(Money)
    #: rupiah the treasurer transfers to the vendor: gross less withheld taxes
    net_payable: Mapped[int | None] = mapped_column(Money)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    order: Mapped[Order] = relationship()
    issued_by: Mapped[User | None] = relationship()
    supersedes: Mapped[IssuedDocument | None] = relationship(remote_side=[id])

    @property
    def display_number(self) -> str:
        return self.number if self.version == 1 else f"{self.number} (rev. {self.version})"

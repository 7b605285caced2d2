"""The tax rule table: which tax applies to a sale, at what rate, from when, rounded how."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalog.db import Base, Money, UTCDateTime, utcnow
from catalog.enums import enum_column


class TaxKind(StrEnum):
    #: a tax the vendor charges and remits (regional PBJT); catalogue prices include it
    CHARGED = "charged"
    #: income tax the treasurer withholds from the payment (PPh 22, PPh 23)
    WITHHELD = "withheld"

    @property
    def label(self) -> str:
        return str(
            {
                TaxKind.CHARGED: _l("Charged by the vendor"),
                TaxKind.WITHHELD: _l("Withheld by the treasurer"),
            }[self]
        )


class Rounding(StrEnum):
    #: whole rupiah, fractions dropped
    DOWN = "down"
    #: whole rupiah, half a rupiah and more rounded up
    HALF_UP = "half_up"

    @property
    def label(self) -> str:
        return str(
            {
                Rounding.DOWN: _l("Down to the whole rupiah"),
                Rounding.HALF_UP: _l("To the nearest rupiah (half up)"),
            }[self]
        )


class TaxRule(Base):
    """One row of the tax rule table, in force from `effective_from` until `effective_to`.

    A rule applies to a sale when every condition holds: the vendor's business type is
    listed (or the list is empty), the vendor is registered for regional tax when required,
    the vendor's NPWP matches `vendor_has_npwp` (None: either), and the tax base is above
    `min_base_exclusive` when set.
    """

    __tablename__ = "tax_rules"
    __table_args__ = (
        CheckConstraint("rate_bp >= 0 AND rate_bp <= 10000", name="rate_in_range"),
        CheckConstraint(
            "effective_to IS NULL OR effective_to > effective_from", name="period_ordered"
        ),
        CheckConstraint(
            "min_base_exclusive IS NULL OR min_base_exclusive >= 0", name="threshold_ok"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: short code shown on the invoice and in exports, e.g. PBJT, PPH23, PPH22
    code: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[TaxKind] = mapped_column(enum_column(TaxKind))
    #: the rate in basis points of the tax base: 1000 = 10%, 150 = 1.5%
    rate_bp: Mapped[int] = mapped_column(Integer)
    #: vendor business types (catalog.enums.BusinessType values); empty = every type
    business_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: only vendors registered for regional tax (with a regional tax number)
    requires_regional_registration: Mapped[bool] = mapped_column(default=False)
    #: True: only vendors with an NPWP; False: only vendors without; None: either
    vendor_has_npwp: Mapped[bool | None] = mapped_column()
    #: rupiah; the rule applies only when the tax base is above this amount
    min_base_exclusive: Mapped[int | None] = mapped_column(Money)
    rounding: Mapped[Rounding] = mapped_column(enum_column(Rounding), default=Rounding.DOWN)
    effective_from: Mapped[date] = mapped_column(Date)
    #: the first day the rule no longer applies; None = open-ended
    effective_to: Mapped[date | None] = mapped_column(Date)
    #: the regulation it implements, shown to curators and auditors
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    @property
    def last_day(self) -> date | None:
        """The last day the rule applies (people think in last days); None = open-ended."""
        return None if self.effective_to is None else self.effective_to - timedelta(days=1)

"""Standard unit costs: the most a category may cost per person, province-wide or per agency."""

from __future__ import annotations

from functools import cache

from sqlalchemy import CheckConstraint, ForeignKey, Select, UniqueConstraint, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from catalog.db import Base, Money
from catalog.models import Category
from marketplace.accounts.models import Agency


class PaxPriceCap(Base):
    """The standard unit cost (SSH) of a category: rupiah per person. An agency's own cap
    replaces the province-wide one."""

    __tablename__ = "pax_price_caps"
    __table_args__ = (
        UniqueConstraint("category_id", "agency_id", name="uq_pax_price_caps_scope"),
        CheckConstraint("max_per_pax > 0", name="max_per_pax_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    #: rupiah per person
    max_per_pax: Mapped[int] = mapped_column(Money)

    category: Mapped[Category] = relationship()
    agency: Mapped[Agency | None] = relationship()


@cache
def _caps_query() -> Select[tuple[int, int | None, int]]:
    """The caps that apply to :caps_agency, province-wide and its own; built once."""
    return select(PaxPriceCap.category_id, PaxPriceCap.agency_id, PaxPriceCap.max_per_pax).where(
        (PaxPriceCap.agency_id == bindparam("caps_agency")) | PaxPriceCap.agency_id.is_(None)
    )


def caps_for(session: Session, agency_id: int) -> dict[int, int]:
    """category id -> rupiah per person, the agency's own cap winning over the province's."""
    caps: dict[int, int] = {}
    rows = session.execute(_caps_query(), {"caps_agency": agency_id})
    for category_id, _agency_id, max_per_pax in sorted(rows, key=lambda r: r[1] is not None):
        caps[category_id] = max_per_pax
    return caps

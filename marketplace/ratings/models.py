"""Ratings of a vendor by the requester of a received order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, UTCDateTime, utcnow
from marketplace.accounts.models import User
from marketplace.ordering.models import Order


class VendorRating(Base):
    __tablename__ = "vendor_ratings"
    __table_args__ = (CheckConstraint("stars >= 1 AND stars <= 5", name="stars_in_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: one rating per order
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    rated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship()
    rated_by: Mapped[User] = relationship()

"""Photos attached to an order: the vendor's proof of delivery, the agency's dispute evidence."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, UTCDateTime, utcnow
from catalog.enums import enum_column
from marketplace.accounts.models import User
from marketplace.ordering.models import Order


class PhotoPurpose(StrEnum):
    DELIVERY = "delivery"
    DISPUTE = "dispute"


class OrderPhoto(Base):
    __tablename__ = "order_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    purpose: Mapped[PhotoPurpose] = mapped_column(enum_column(PhotoPurpose))
    #: the key of the stored derivatives (catalog.photos), never the upload's file name
    photo_key: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship()
    uploaded_by: Mapped[User] = relationship()

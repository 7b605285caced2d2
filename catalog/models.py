"""Typed models of what is for sale: vendors (UMKM businesses), categories and products."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, Money, UTCDateTime, utcnow


def enum_column(enum_cls: type[StrEnum], length: int = 20) -> Enum:
    """Store a StrEnum by its value, as a plain string column on every database."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class VendorStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        return str(
            {
                "pending": _l("Awaiting verification"),
                "verified": _l("Verified"),
                "suspended": _l("Suspended"),
            }[self.value]
        )


class BusinessType(StrEnum):
    CATERER = "caterer"
    RESTAURANT = "restaurant"
    SHOP = "shop"
    HOME_INDUSTRY = "home_industry"

    @property
    def label(self) -> str:
        return str(
            {
                "caterer": _l("Caterer"),
                "restaurant": _l("Restaurant"),
                "shop": _l("Shop"),
                "home_industry": _l("Home industry"),
            }[self.value]
        )


class BusinessScale(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"

    @property
    def label(self) -> str:
        return str({"micro": _l("Micro"), "small": _l("Small"), "medium": _l("Medium")}[self.value])


class Unit(StrEnum):
    BOX = "box"
    PAX = "pax"
    PORTION = "portion"
    PACKAGE = "package"
    LITRE = "litre"
    PIECE = "piece"

    @property
    def label(self) -> str:
        return str(
            {
                "box": _l("box"),
                "pax": _l("pax"),
                "portion": _l("portion"),
                "package": _l("package"),
                "litre": _l("litre"),
                "piece": _l("piece"),
            }[self.value]
        )


class ProductStatus(StrEnum):
    PUBLISHED = "published"
    PAUSED = "paused"

    @property
    def label(self) -> str:
        return str({"published": _l("Published"), "paused": _l("Paused")}[self.value])


class Vendor(Base):
    """A small food business (UMKM) that sells through the marketplace."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trading_name: Mapped[str] = mapped_column(String(200))
    business_type: Mapped[BusinessType] = mapped_column(enum_column(BusinessType))
    scale: Mapped[BusinessScale] = mapped_column(enum_column(BusinessScale))
    district: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(30))
    status: Mapped[VendorStatus] = mapped_column(
        enum_column(VendorStatus), default=VendorStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    products: Mapped[list[Product]] = relationship(back_populates="vendor")

    @property
    def is_verified(self) -> bool:
        return self.status is VendorStatus.VERIFIED


class Category(Base):
    """A kind of food or drink (nasi box, snack box, coffee break, ...), in both languages."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_id: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)

    def name_for(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_id


class Product(Base):
    """A listing: one thing a vendor sells, at a price per unit."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("min_order_quantity >= 1", name="min_order_quantity_positive"),
        CheckConstraint("lead_time_hours >= 0", name="lead_time_non_negative"),
        UniqueConstraint("vendor_id", "name", name="uq_products_vendor_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[Unit] = mapped_column(enum_column(Unit))
    #: rupiah per unit
    price: Mapped[int] = mapped_column(Money)
    min_order_quantity: Mapped[int] = mapped_column(Integer, default=1)
    lead_time_hours: Mapped[int] = mapped_column(Integer, default=24)
    status: Mapped[ProductStatus] = mapped_column(
        enum_column(ProductStatus), default=ProductStatus.PUBLISHED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    vendor: Mapped[Vendor] = relationship(back_populates="products")
    category: Mapped[Category] = relationship()

    @property
    def is_orderable(self) -> bool:
        return self.status is ProductStatus.PUBLISHED and self.vendor.is_verified


__all__ = [
    "Base",
    "BusinessScale",
    "BusinessType",
    "Category",
    "Product",
    "ProductStatus",
    "Unit",
    "Vendor",
    "VendorStatus",
]

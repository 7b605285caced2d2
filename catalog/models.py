"""Typed models of what is for sale: vendors (UMKM businesses), their documents, categories,
products with photos and price history, and vendors' capacity."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, Money, UTCDateTime, utcnow
from catalog.enums import (
    BusinessScale,
    BusinessType,
    DietaryTag,
    DocumentKind,
    DocumentStatus,
    ProductStatus,
    ReviewState,
    Unit,
    VendorStatus,
    enum_column,
)


class Vendor(Base):
    """A small food business (UMKM) that sells through the marketplace."""

    __tablename__ = "vendors"
    __table_args__ = (
        CheckConstraint(
            "max_portions_per_day IS NULL OR max_portions_per_day > 0",
            name="capacity_positive",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trading_name: Mapped[str] = mapped_column(String(200))
    #: Nomor Induk Berusaha, 13 digits
    nib: Mapped[str | None] = mapped_column(String(13), unique=True)
    #: NPWP, 15 or 16 digits; without it, income tax is withheld at the higher rate
    npwp: Mapped[str | None] = mapped_column(String(16))
    business_type: Mapped[BusinessType] = mapped_column(enum_column(BusinessType))
    scale: Mapped[BusinessScale] = mapped_column(enum_column(BusinessScale))
    district: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100))
    #: districts (kecamatan) the vendor delivers to
    service_districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    jakpreneur_number: Mapped[str | None] = mapped_column(String(40))
    #: regional tax number (NPWPD / NOPD); a vendor with one charges regional food tax (PBJT)
    regional_tax_number: Mapped[str | None] = mapped_column(String(40))
    bank_name: Mapped[str] = mapped_column(String(100), default="")
    bank_account_number: Mapped[str] = mapped_column(String(40), default="")
    bank_account_holder: Mapped[str] = mapped_column(String(200), default="")
    #: a connected Stripe account (acct_...): card payments become destination charges to it
    stripe_account_id: Mapped[str | None] = mapped_column(String(255))
    contact_person: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(30))
    #: portions the kitchen can make in one day; None means not limited
    max_portions_per_day: Mapped[int | None] = mapped_column(Integer)
    #: orders for the next day must arrive before this time (Jakarta)
    order_cutoff: Mapped[time | None] = mapped_column(Time)
    status: Mapped[VendorStatus] = mapped_column(
        enum_column(VendorStatus), default=VendorStatus.PENDING
    )
    status_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: kept up to date by the marketplace at each rating and receipt, for sorting and display
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_stars_total: Mapped[int] = mapped_column(Integer, default=0)
    receipts_count: Mapped[int] = mapped_column(Integer, default=0)
    receipts_on_time: Mapped[int] = mapped_column(Integer, default=0)

    products: Mapped[list[Product]] = relationship(back_populates="vendor")
    documents: Mapped[list[VendorDocument]] = relationship(
        back_populates="vendor", order_by="VendorDocument.id"
    )
    closed_days: Mapped[list[VendorClosedDay]] = relationship(
        back_populates="vendor", order_by="VendorClosedDay.day", cascade="all, delete-orphan"
    )

    @property
    def is_verified(self) -> bool:
        return self.status is VendorStatus.VERIFIED

    @property
    def rating_tenths(self) -> int:
        """The average rating in tenths of a star (43 = 4.3 stars); 0 when nobody rated."""
        if not self.rating_count:
            return 0
        return (self.rating_stars_total * 10 + self.rating_count // 2) // self.rating_count

    @property
    def on_time_percent(self) -> int | None:
        """Share of received orders delivered on time, in whole percent; None before any."""
        if not self.receipts_count:
            return None
        return (self.receipts_on_time * 100 + self.receipts_count // 2) // self.receipts_count


class VendorDocument(Base):
    """A permit or certificate the vendor uploads and a curator checks."""

    __tablename__ = "vendor_documents"
    __table_args__ = (CheckConstraint("expires_on >= issued_on", name="expiry_after_issue"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_column(DocumentKind))
    number: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date, index=True)
    #: stored file name (generated), and whether it is a PDF or an image
    file_name: Mapped[str] = mapped_column(String(120))
    file_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[DocumentStatus] = mapped_column(
        enum_column(DocumentStatus), default=DocumentStatus.PENDING
    )
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: when the vendor was warned, 30 and 7 days before expiry
    warned_30_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warned_7_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    vendor: Mapped[Vendor] = relationship(back_populates="documents")


class VendorClosedDay(Base):
    """A day the vendor takes no orders for (holiday, leave)."""

    __tablename__ = "vendor_closed_days"
    __table_args__ = (UniqueConstraint("vendor_id", "day", name="uq_vendor_closed_days_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")

    vendor: Mapped[Vendor] = relationship(back_populates="closed_days")


class Category(Base):
    """A kind of food or drink (nasi box, snack box, coffee break, ...), in both languages.

    Categories form a tree managed by the curator.
    """

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name_id: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped[Category | None] = relationship(remote_side="Category.id")

    def name_for(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_id


class Product(Base):
    """A listing: one thing a vendor sells, at a price per unit."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("min_order_quantity >= 1", name="min_order_quantity_positive"),
        CheckConstraint("lead_time_hours >= 0", name="lead_time_non_negative"),
        CheckConstraint("portions_per_unit >= 1", name="portions_positive"),
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
    #: how many people one unit feeds (a tumpeng package may feed 20)
    portions_per_unit: Mapped[int] = mapped_column(Integer, default=1)
    #: DietaryTag values
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: the vendor's switch: on sale or paused
    status: Mapped[ProductStatus] = mapped_column(
        enum_column(ProductStatus), default=ProductStatus.PUBLISHED
    )
    review_state: Mapped[ReviewState] = mapped_column(
        enum_column(ReviewState), default=ReviewState.PENDING
    )
    review_note: Mapped[str] = mapped_column(Text, default="")
    #: set by the system when a document the listing relies on has expired
    delisted_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    vendor: Mapped[Vendor] = relationship(back_populates="products")
    category: Mapped[Category] = relationship()
    photos: Mapped[list[ProductPhoto]] = relationship(
        back_populates="product",
        order_by="ProductPhoto.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    price_changes: Mapped[list[PriceChange]] = relationship(
        back_populates="product", order_by="PriceChange.changed_at", cascade="all, delete-orphan"
    )

    @property
    def is_orderable(self) -> bool:
        return (
            self.status is ProductStatus.PUBLISHED
            and self.review_state is ReviewState.APPROVED
            and not self.delisted_reason
            and self.vendor.is_verified
        )

    @property
    def cover(self) -> ProductPhoto | None:
        return next((p for p in self.photos if p.is_cover), self.photos[0] if self.photos else None)

    @property
    def dietary_tags(self) -> list[DietaryTag]:
        return [DietaryTag(t) for t in self.tags or [] if t in DietaryTag._value2member_map_]


class ProductPhoto(Base):
    __tablename__ = "product_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    #: generated storage key; files are <key>-large.webp, <key>-thumb.jpg, ...
    key: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_cover: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    product: Mapped[Product] = relationship(back_populates="photos")


class PriceChange(Base):
    """Every change of a listing's price: old, new, when and by whom."""

    __tablename__ = "price_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    #: rupiah
    old_price: Mapped[int] = mapped_column(Money)
    #: rupiah
    new_price: Mapped[int] = mapped_column(Money)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    product: Mapped[Product] = relationship(back_populates="price_changes")


__all__ = [
    "BusinessScale",
    "BusinessType",
    "Category",
    "DietaryTag",
    "DocumentKind",
    "DocumentStatus",
    "PriceChange",
    "Product",
    "ProductPhoto",
    "ProductStatus",
    "ReviewState",
    "Unit",
    "Vendor",
    "VendorClosedDay",
    "VendorDocument",
    "VendorStatus",
    "enum_column",
]

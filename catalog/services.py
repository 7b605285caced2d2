"""Catalogue operations: validating and saving listings, and finding what can be ordered."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from catalog.models import Category, Product, ProductStatus, Unit, Vendor, VendorStatus

MAX_PRICE = 1_000_000_000  # rupiah; anything above is a typing error, not a catering price


class ListingError(ValueError):
    """A listing that cannot be saved, with the field to fix."""

    def __init__(self, field: str, message: object) -> None:
        super().__init__(str(message))
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ListingData:
    name: str
    description: str
    category_id: int
    unit: Unit
    price: int
    min_order_quantity: int = 1
    lead_time_hours: int = 24
    status: ProductStatus = ProductStatus.PUBLISHED


def _validate(session: Session, vendor: Vendor, data: ListingData, product_id: int | None) -> None:
    name = data.name.strip()
    if not name:
        raise ListingError("name", _l("Enter the product name."))
    if isinstance(data.price, bool) or not isinstance(data.price, int):
        raise ListingError("price", _l("The price must be a whole number of rupiah."))
    if data.price <= 0:
        raise ListingError("price", _l("The price must be more than Rp 0."))
    if data.price > MAX_PRICE:
        raise ListingError("price", _l("The price is too high for one unit."))
    if data.min_order_quantity < 1:
        raise ListingError("min_order_quantity", _l("The minimum order must be at least 1."))
    if data.lead_time_hours < 0:
        raise ListingError("lead_time_hours", _l("The lead time cannot be negative."))
    if session.get(Category, data.category_id) is None:
        raise ListingError("category_id", _l("Choose a category."))
    clash = session.scalar(
        select(Product.id).where(
            Product.vendor_id == vendor.id,
            func.lower(Product.name) == name.lower(),
            Product.id != (product_id or 0),
        )
    )
    if clash is not None:
        raise ListingError("name", _l("You already have a product with this name."))


def create_listing(session: Session, vendor: Vendor, data: ListingData) -> Product:
    _validate(session, vendor, data, None)
    product = Product(
        vendor=vendor,
        name=data.name.strip(),
        description=data.description.strip(),
        category_id=data.category_id,
        unit=data.unit,
        price=data.price,
        min_order_quantity=data.min_order_quantity,
        lead_time_hours=data.lead_time_hours,
        status=data.status,
    )
    session.add(product)
    session.flush()
    return product


def update_listing(session: Session, product: Product, data: ListingData) -> Product:
    _validate(session, product.vendor, data, product.id)
    product.name = data.name.strip()
    product.description = data.description.strip()
    product.category_id = data.category_id
    product.unit = data.unit
    product.price = data.price
    product.min_order_quantity = data.min_order_quantity
    product.lead_time_hours = data.lead_time_hours
    product.status = data.status
    session.flush()
    return product


def listing_snapshot(product: Product) -> dict[str, object]:
    """The fields of a listing as plain data, for audit trails."""
    return {
        "name": product.name,
        "category_id": product.category_id,
        "unit": product.unit.value,
        "price": product.price,
        "min_order_quantity": product.min_order_quantity,
        "lead_time_hours": product.lead_time_hours,
        "status": product.status.value,
    }


def orderable_products_query(text: str = "", category_slug: str = "") -> Select[tuple[Product]]:
    """Published products of verified vendors, optionally filtered by words and category."""
    query = (
        select(Product)
        .join(Product.vendor)
        .join(Product.category)
        .where(Product.status == ProductStatus.PUBLISHED, Vendor.status == VendorStatus.VERIFIED)
        .options(joinedload(Product.vendor), joinedload(Product.category))
    )
    for word in text.split()[:8]:
        escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(Product.name).like(pattern, escape="\\"),
                func.lower(Product.description).like(pattern, escape="\\"),
                func.lower(Vendor.trading_name).like(pattern, escape="\\"),
                func.lower(Category.name_id).like(pattern, escape="\\"),
                func.lower(Category.name_en).like(pattern, escape="\\"),
            )
        )
    if category_slug:
        query = query.where(Category.slug == category_slug)
    return query.order_by(Product.name, Product.id)


def categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position, Category.slug)))

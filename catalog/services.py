"""Catalogue operations: validating and saving listings, and finding what can be ordered."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from catalog.models import (
    Category,
    DietaryTag,
    PriceChange,
    Product,
    ProductPhoto,
    ProductStatus,
    ReviewState,
    Unit,
    Vendor,
    VendorStatus,
)

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
    portions_per_unit: int = 1
    tags: tuple[DietaryTag, ...] = ()


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
    if data.portions_per_unit < 1:
        raise ListingError("portions_per_unit", _l("One unit feeds at least one person."))
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
        portions_per_unit=data.portions_per_unit,
        tags=sorted({t.value for t in data.tags}),
        review_state=ReviewState.PENDING,  # every new listing is checked by a curator
    )
    session.add(product)
    session.flush()
    return product


def is_material_price_rise(old: int, new: int) -> bool:
    """A rise of more than 10% sends the listing back to the curator (integer arithmetic)."""
    return new * 10 > old * 11


def update_listing(
    session: Session, product: Product, data: ListingData, *, changed_by_id: int | None = None
) -> Product:
    """Save a vendor's edit. A new name or a price rise above 10% needs the curator again;
    every price change is kept in the price history."""
    _validate(session, product.vendor, data, product.id)
    material = data.name.strip() != product.name or is_material_price_rise(
        product.price, data.price
    )
    if data.price != product.price:
        session.add(
            PriceChange(
                product=product,
                old_price=product.price,
                new_price=data.price,
                changed_by_id=changed_by_id,
            )
        )
    if material:
        send_for_review(product)
    product.name = data.name.strip()
    product.description = data.description.strip()
    product.category_id = data.category_id
    product.unit = data.unit
    product.price = data.price
    product.min_order_quantity = data.min_order_quantity
    product.lead_time_hours = data.lead_time_hours
    product.status = data.status
    product.portions_per_unit = data.portions_per_unit
    product.tags = sorted({t.value for t in data.tags})
    session.flush()
    return product


def send_for_review(product: Product) -> None:
    product.review_state = ReviewState.PENDING
    product.review_note = ""


def approve_listing(session: Session, product: Product) -> None:
    if product.review_state is ReviewState.APPROVED:
        raise ListingError("review_state", _l("This listing is already approved."))
    product.review_state = ReviewState.APPROVED
    product.review_note = ""
    session.flush()


def reject_listing(session: Session, product: Product, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise ListingError("reason", _l("Give a reason."))
    if product.review_state is not ReviewState.PENDING:
        raise ListingError("review_state", _l("Only a listing waiting for review can be rejected."))
    product.review_state = ReviewState.REJECTED
    product.review_note = reason
    session.flush()


def review_queue(session: Session) -> list[Product]:
    """Listings waiting for a curator, oldest change first."""
    return list(
        session.scalars(
            select(Product)
            .where(Product.review_state == ReviewState.PENDING)
            .options(joinedload(Product.vendor), joinedload(Product.category))
            .order_by(Product.updated_at, Product.id)
        ).unique()
    )


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
        "review_state": product.review_state.value,
        "portions_per_unit": product.portions_per_unit,
        "tags": list(product.tags or []),
    }


def orderable_products_query(text: str = "", category_slug: str = "") -> Select[tuple[Product]]:
    """Published products of verified vendors, optionally filtered by words and category."""
    query = (
        select(Product)
        .join(Product.vendor)
        .join(Product.category)
        .where(
            Product.status == ProductStatus.PUBLISHED,
            Product.review_state == ReviewState.APPROVED,
            Product.delisted_reason == "",
            Vendor.status == VendorStatus.VERIFIED,
        )
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


# Photos ------------------------------------------------------------------------------

MAX_PHOTOS = 6


def check_photo_room(product: Product) -> None:
    if len(product.photos) >= MAX_PHOTOS:
        raise ListingError("photo", _l("A product has at most 6 photos; remove one first."))


def attach_photo(session: Session, product: Product, key: str, width: int, height: int) -> None:
    """Add a stored photo; the first becomes the cover. New photos need the curator's look."""
    check_photo_room(product)
    product.photos.append(
        ProductPhoto(
            key=key,
            width=width,
            height=height,
            position=max((p.position for p in product.photos), default=-1) + 1,
            is_cover=not product.photos,
        )
    )
    send_for_review(product)
    session.flush()


def detach_photo(session: Session, product: Product, photo_id: int) -> str:
    """Remove a photo from the listing and return its storage key (to delete the files)."""
    photo = next((p for p in product.photos if p.id == photo_id), None)
    if photo is None:
        raise ListingError("photo", _l("No such photo."))
    product.photos.remove(photo)
    if photo.is_cover and product.photos:
        product.photos[0].is_cover = True
    session.flush()
    return photo.key


def choose_cover(session: Session, product: Product, photo_id: int) -> None:
    if not any(p.id == photo_id for p in product.photos):
        raise ListingError("photo", _l("No such photo."))
    for photo in product.photos:
        photo.is_cover = photo.id == photo_id
    session.flush()


# Categories --------------------------------------------------------------------------

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class CategoryData:
    slug: str
    name_id: str
    name_en: str
    parent_id: int | None = None
    position: int = 0


def save_category(
    session: Session, data: CategoryData, category: Category | None = None
) -> Category:
    """Create or change a category; the tree may not loop and slugs stay unique."""
    slug = data.slug.strip().lower()
    if not _SLUG.fullmatch(slug) or len(slug) > 60:
        raise ListingError("slug", _l("Use lowercase letters, digits and dashes, e.g. nasi-box."))
    if not data.name_id.strip() or not data.name_en.strip():
        raise ListingError("name_id", _l("Give the name in both languages."))
    clash = session.scalar(select(Category.id).where(Category.slug == slug))
    if clash is not None and (category is None or clash != category.id):
        raise ListingError("slug", _l("Another category already uses this slug."))
    parent = session.get(Category, data.parent_id) if data.parent_id else None
    if data.parent_id and parent is None:
        raise ListingError("parent_id", _l("Choose an existing parent category."))
    ancestor = parent
    while ancestor is not None:
        if category is not None and ancestor.id == category.id:
            raise ListingError("parent_id", _l("A category cannot sit under itself."))
        ancestor = ancestor.parent
    if category is None:
        category = Category()
        session.add(category)
    category.slug = slug
    category.name_id = data.name_id.strip()
    category.name_en = data.name_en.strip()
    category.parent = parent
    category.position = data.position
    session.flush()
    return category


def category_tree(session: Session) -> list[tuple[Category, int]]:
    """Every category with its depth, parents before children, in display order."""
    all_categories = categories(session)
    children: dict[int | None, list[Category]] = {}
    for category in all_categories:
        children.setdefault(category.parent_id, []).append(category)
    ordered: list[tuple[Category, int]] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for category in children.get(parent_id, []):
            ordered.append((category, depth))
            walk(category.id, depth + 1)

    walk(None, 0)
    return ordered

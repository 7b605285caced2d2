"""Vendor-side operations: managing listings, with permission checks and audit events."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import services as catalog
from catalog.models import Product, Vendor
from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.permissions import can_manage_listings


def vendors_of(session: Session, user: User) -> list[Vendor]:
    ids = sorted(m.vendor_id for m in user.memberships if m.vendor_id is not None)
    return [v for v in (session.get(Vendor, i) for i in ids) if v is not None]


def current_vendor(session: Session, user: User) -> Vendor:
    vendors = vendors_of(session, user)
    if not vendors:
        raise PermissionDenied(_l("This page is for vendors."))
    return vendors[0]


def get_own_product(session: Session, user: User, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None or not can_manage_listings(user, product.vendor):
        raise NotFound(_l("No such product."))
    return product


def vendor_products(session: Session, vendor: Vendor) -> list[Product]:
    return list(
        session.scalars(
            select(Product).where(Product.vendor_id == vendor.id).order_by(Product.name)
        )
    )


def create_product(
    session: Session, actor: User, vendor: Vendor, data: catalog.ListingData
) -> Product:
    if not can_manage_listings(actor, vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's products."))
    try:
        product = catalog.create_listing(session, vendor, data)
    except catalog.ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    record_event(
        session,
        actor,
        "product.create",
        "product",
        product.id,
        after=catalog.listing_snapshot(product),
        vendor_id=vendor.id,
    )
    return product


def update_product(
    session: Session, actor: User, product: Product, data: catalog.ListingData
) -> Product:
    if not can_manage_listings(actor, product.vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's products."))
    before = catalog.listing_snapshot(product)
    try:
        catalog.update_listing(session, product, data)
    except catalog.ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    record_event(
        session,
        actor,
        "product.update",
        "product",
        product.id,
        before=before,
        after=catalog.listing_snapshot(product),
        vendor_id=product.vendor_id,
    )
    return product

"""Vendor-side operations: managing listings, with permission checks and audit events."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import documents, listings_csv, photos, vendors
from catalog import services as catalog
from catalog.models import Product, Vendor, VendorDocument
from catalog.services import ListingError
from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.permissions import can_manage_listings, has_any_permission
from marketplace.taxes.services import normalise_regional_tax_number


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
        catalog.update_listing(session, product, data, changed_by_id=actor.id)
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


# Documents and capacity ------------------------------------------------------------


def upload_document(
    session: Session,
    actor: User,
    vendor: Vendor,
    data: documents.DocumentData,
    upload: bytes,
    storage_dir: Path,
    today: date,
) -> VendorDocument:
    if not can_manage_listings(actor, vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's documents."))
    try:
        file_name, file_type = documents.store_document_file(upload, storage_dir)
    except ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    try:
        document = documents.add_document(session, vendor, data, file_name, file_type, today)
    except ListingError as error:
        documents.delete_document_file(storage_dir, file_name)  # keep no file the database lost
        raise DomainError(error.message, field=error.field) from None
    record_event(
        session,
        actor,
        "document.upload",
        "vendor_document",
        document.id,
        after={
            "kind": document.kind.value,
            "number": document.number,
            "expires_on": document.expires_on.isoformat(),
        },
        vendor_id=vendor.id,
    )
    return document


def own_document(session: Session, user: User, document_id: int) -> VendorDocument:
    document = session.get(VendorDocument, document_id)
    if document is None or not (
        can_manage_listings(user, document.vendor)
        or has_any_permission(user, "vendor:verify")
        or has_any_permission(user, "audit:view")
    ):
        raise NotFound(_l("No such document."))
    return document


def update_capacity(
    session: Session, actor: User, vendor: Vendor, max_portions: int | None, cutoff: time | None
) -> None:
    if not can_manage_listings(actor, vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's capacity."))
    before = {
        "max_portions_per_day": vendor.max_portions_per_day,
        "order_cutoff": vendor.order_cutoff.isoformat() if vendor.order_cutoff else None,
    }
    try:
        vendors.set_capacity(session, vendor, max_portions, cutoff)
    except ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    record_event(
        session,
        actor,
        "vendor.capacity",
        "vendor",
        vendor.id,
        before=before,
        after={
            "max_portions_per_day": max_portions,
            "order_cutoff": cutoff.isoformat() if cutoff else None,
        },
        vendor_id=vendor.id,
    )


def update_regional_tax_number(
    session: Session, actor: User, vendor: Vendor, raw: str | None
) -> None:
    """The vendor says whether it is registered for PBJT: it decides the taxes on its sales."""
    if not can_manage_listings(actor, vendor):
        raise PermissionDenied(_l("You cannot change this vendor's tax registration."))
    before = {"regional_tax_number": vendor.regional_tax_number}
    vendor.regional_tax_number = normalise_regional_tax_number(raw)
    session.flush()
    record_event(
        session,
        actor,
        "vendor.tax_registration",
        "vendor",
        vendor.id,
        before=before,
        after={"regional_tax_number": vendor.regional_tax_number},
        vendor_id=vendor.id,
    )


def close_day(
    session: Session, actor: User, vendor: Vendor, day: date, reason: str, today: date
) -> None:
    if not can_manage_listings(actor, vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's capacity."))
    try:
        vendors.add_closed_day(session, vendor, day, reason, today)
    except ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    record_event(
        session,
        actor,
        "vendor.close_day",
        "vendor",
        vendor.id,
        after={"day": day.isoformat(), "reason": reason},
        vendor_id=vendor.id,
    )


def reopen_day(session: Session, actor: User, vendor: Vendor, closed_day_id: int) -> None:
    if not can_manage_listings(actor, vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's capacity."))
    try:
        vendors.remove_closed_day(session, vendor, closed_day_id)
    except ListingError as error:
        raise NotFound(error.message) from None
    record_event(
        session,
        actor,
        "vendor.reopen_day",
        "vendor",
        vendor.id,
        after={"closed_day_id": closed_day_id},
        vendor_id=vendor.id,
    )


# Photos ----------------------------------------------------------------------------


def add_photo(
    session: Session, actor: User, product: Product, upload: bytes, storage_dir: Path
) -> None:
    if not can_manage_listings(actor, product.vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's products."))
    try:
        catalog.check_photo_room(product)
        stored = photos.store_photo(upload, storage_dir)
    except ListingError as error:
        raise DomainError(error.message, field="photo") from None
    except photos.PhotoError as error:
        raise DomainError(error.message, field="photo") from None
    try:
        catalog.attach_photo(session, product, stored.key, stored.width, stored.height)
    except Exception:
        photos.delete_photo(stored.key, storage_dir)  # do not leave files the database lost
        raise
    record_event(
        session,
        actor,
        "product.add_photo",
        "product",
        product.id,
        after={"photo": stored.key, "review_state": product.review_state.value},
        vendor_id=product.vendor_id,
    )


def remove_photo(session: Session, actor: User, product: Product, photo_id: int) -> str:
    """Detach the photo; the caller deletes the files after the commit."""
    if not can_manage_listings(actor, product.vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's products."))
    try:
        key = catalog.detach_photo(session, product, photo_id)
    except ListingError as error:
        raise NotFound(error.message) from None
    record_event(
        session,
        actor,
        "product.remove_photo",
        "product",
        product.id,
        after={"photo": key},
        vendor_id=product.vendor_id,
    )
    return key


def set_cover_photo(session: Session, actor: User, product: Product, photo_id: int) -> None:
    if not can_manage_listings(actor, product.vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's products."))
    try:
        catalog.choose_cover(session, product, photo_id)
    except ListingError as error:
        raise NotFound(error.message) from None


# Bulk listings ---------------------------------------------------------------------


def import_listings(
    session: Session, actor: User, vendor: Vendor, data: bytes
) -> listings_csv.ImportSummary:
    """Import a CSV of listings: all rows or none (listings_csv.ImportFailed lists errors)."""
    if not can_manage_listings(actor, vendor):
        raise PermissionDenied(_l("You cannot manage this vendor's products."))
    summary = listings_csv.import_listings(session, vendor, data, changed_by_id=actor.id)
    record_event(
        session,
        actor,
        "product.import",
        "vendor",
        vendor.id,
        after={
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
        },
        vendor_id=vendor.id,
    )
    return summary

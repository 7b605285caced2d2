"""Curator operations on the catalogue: reviewing listings, with permission and audit."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import documents
from catalog import services as catalog
from catalog.models import Category, DocumentStatus, Product, VendorDocument
from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.permissions import has_permission


def _require_curator(user: User) -> None:
    if not has_permission(user, "catalog:curate"):
        raise PermissionDenied(_l("Only a curator can review listings."))


def approve_listing(session: Session, curator: User, product: Product) -> Product:
    _require_curator(curator)
    before = catalog.listing_snapshot(product)
    try:
        catalog.approve_listing(session, product)
    except catalog.ListingError as error:
        raise Conflict(error.message) from None
    record_event(
        session,
        curator,
        "product.approve",
        "product",
        product.id,
        before=before,
        after=catalog.listing_snapshot(product),
        vendor_id=product.vendor_id,
    )
    return product


def reject_listing(session: Session, curator: User, product: Product, reason: str) -> Product:
    _require_curator(curator)
    before = catalog.listing_snapshot(product)
    try:
        catalog.reject_listing(session, product, reason)
    except catalog.ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    after = catalog.listing_snapshot(product) | {"reason": product.review_note}
    record_event(
        session,
        curator,
        "product.reject",
        "product",
        product.id,
        before=before,
        after=after,
        vendor_id=product.vendor_id,
    )
    return product


def verify_document(
    session: Session, curator: User, document: VendorDocument, today: date
) -> list[Product]:
    if not has_permission(curator, "vendor:verify"):
        raise PermissionDenied(_l("Only a curator can verify documents."))
    try:
        relisted = documents.verify_document(session, document, curator.id, today)
    except catalog.ListingError as error:
        raise Conflict(error.message) from None
    record_event(
        session,
        curator,
        "document.verify",
        "vendor_document",
        document.id,
        after={"status": document.status.value, "relisted": [p.id for p in relisted]},
        vendor_id=document.vendor_id,
    )
    return relisted


def reject_document(session: Session, curator: User, document: VendorDocument, reason: str) -> None:
    if not has_permission(curator, "vendor:verify"):
        raise PermissionDenied(_l("Only a curator can verify documents."))
    try:
        documents.reject_document(session, document, curator.id, reason)
    except catalog.ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    record_event(
        session,
        curator,
        "document.reject",
        "vendor_document",
        document.id,
        after={"status": document.status.value, "reason": document.rejection_reason},
        vendor_id=document.vendor_id,
    )


def document_queue(session: Session) -> list[VendorDocument]:
    return list(
        session.scalars(
            select(VendorDocument)
            .where(VendorDocument.status == DocumentStatus.PENDING)
            .order_by(VendorDocument.uploaded_at, VendorDocument.id)
        )
    )


def save_category(
    session: Session, curator: User, data: catalog.CategoryData, category: Category | None = None
) -> Category:
    _require_curator(curator)
    before = None if category is None else {"slug": category.slug, "parent_id": category.parent_id}
    try:
        saved = catalog.save_category(session, data, category)
    except catalog.ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    record_event(
        session,
        curator,
        "category.save",
        "category",
        saved.id,
        before=before,
        after={
            "slug": saved.slug,
            "name_id": saved.name_id,
            "name_en": saved.name_en,
            "parent_id": saved.parent_id,
        },
    )
    return saved

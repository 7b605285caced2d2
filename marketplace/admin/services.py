"""Curator operations on the catalogue: reviewing listings, with permission and audit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import documents
from catalog import services as catalog
from catalog.models import Category, DocumentStatus, Product, VendorDocument
from marketplace.accounts.models import Agency, User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.ordering.caps import PaxPriceCap
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


@dataclass(frozen=True)
class AgencyData:
    code: str
    name: str
    address: str
    city: str
    second_approval_threshold: int | None
    split_purchase_threshold: int | None


#: agency codes (kode unit) appear in document numbers and file names
AGENCY_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-]{0,29}")


def _has_documents(session: Session, agency_id: int) -> bool:
    from marketplace.documents.models import IssuedDocument

    return (
        session.scalar(
            select(IssuedDocument.id).where(IssuedDocument.agency_id == agency_id).limit(1)
        )
        is not None
    )


def save_agency(
    session: Session, curator: User, data: AgencyData, agency: Agency | None = None
) -> Agency:
    """Create or change an agency and its approval rules (thresholds in rupiah)."""
    if not has_permission(curator, "user:manage"):
        raise PermissionDenied(_l("Only a curator manages agencies."))
    code, name = data.code.strip(), data.name.strip()
    if not code or not name:
        raise DomainError(
            _l("Give the agency's code and name."), field="code" if not code else "name"
        )
    if not AGENCY_CODE.fullmatch(code):
        raise DomainError(
            _l("The code has letters, digits, dots and dashes only (at most 30)."), field="code"
        )
    if agency is not None and code != agency.code and _has_documents(session, agency.id):
        raise Conflict(
            _l("The code is printed in this agency's issued documents and cannot change."),
            field="code",
        )
    clash = session.scalar(select(Agency.id).where(Agency.code == code))
    if clash is not None and (agency is None or clash != agency.id):
        raise Conflict(_l("Another agency already has this code."), field="code")
    for field in ("second_approval_threshold", "split_purchase_threshold"):
        value = getattr(data, field)
        if value is not None and value <= 0:
            raise DomainError(
                _l("A threshold must be more than Rp 0, or empty for the default."), field=field
            )
    before = (
        None
        if agency is None
        else {
            "second_approval_threshold": agency.second_approval_threshold,
            "split_purchase_threshold": agency.split_purchase_threshold,
        }
    )
    if agency is None:
        agency = Agency()
        session.add(agency)
    agency.code, agency.name = code, name
    agency.address, agency.city = data.address.strip(), data.city.strip()
    agency.second_approval_threshold = data.second_approval_threshold
    agency.split_purchase_threshold = data.split_purchase_threshold
    session.flush()
    record_event(
        session,
        curator,
        "agency.save",
        "agency",
        agency.id,
        before=before,
        after={
            "code": code,
            "second_approval_threshold": agency.second_approval_threshold,
            "split_purchase_threshold": agency.split_purchase_threshold,
        },
        agency_id=agency.id,
    )
    return agency


def set_unit_cost(
    session: Session,
    curator: User,
    category_id: int,
    agency_id: int | None,
    max_per_pax: int | None,
) -> None:
    """Set (or with None remove) the standard unit cost of a category, province-wide or for
    one agency."""
    _require_curator(curator)
    if session.get(Category, category_id) is None:
        raise DomainError(_l("Choose a category."), field="category_id")
    if agency_id is not None and session.get(Agency, agency_id) is None:
        raise DomainError(_l("Choose an agency."), field="agency_id")
    if max_per_pax is not None and max_per_pax <= 0:
        raise DomainError(_l("The cost per person must be more than Rp 0."), field="max_per_pax")
    cap = session.scalar(
        select(PaxPriceCap).where(
            PaxPriceCap.category_id == category_id,
            PaxPriceCap.agency_id.is_(None)
            if agency_id is None
            else PaxPriceCap.agency_id == agency_id,
        )
    )
    before = None if cap is None else {"max_per_pax": cap.max_per_pax}
    if max_per_pax is None:
        if cap is not None:
            session.delete(cap)
    elif cap is None:
        session.add(
            PaxPriceCap(category_id=category_id, agency_id=agency_id, max_per_pax=max_per_pax)
        )
    else:
        cap.max_per_pax = max_per_pax
    session.flush()
    record_event(
        session,
        curator,
        "unit_cost.set",
        "category",
        category_id,
        before=before,
        after={"agency_id": agency_id, "max_per_pax": max_per_pax},
        agency_id=agency_id,
    )

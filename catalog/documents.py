"""Vendors' permits and certificates: upload, curator review, expiry and its effect on listings.

A verified document that expires delists the listings that relied on it: a halal certificate
the products tagged halal, a PIRT or SLHS permit every product of the vendor. A renewed
document, once verified, puts them back on sale.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import utcnow
from catalog.models import (
    DietaryTag,
    DocumentKind,
    DocumentStatus,
    Product,
    Vendor,
    VendorDocument,
)
from catalog.photos import PhotoError, delete_photo, store_photo
from catalog.services import ListingError

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
WARNING_DAYS = (30, 7)
_DOCUMENT_NAME = re.compile(r"^(?:doc-[A-Za-z0-9_-]{20,64}\.pdf|[A-Za-z0-9_-]{20,64}-large\.jpg)$")
DELISTED_PREFIX = "document:"


def store_document_file(data: bytes | BinaryIO, storage_dir: Path) -> tuple[str, str]:
    """Keep an uploaded PDF as it is, or an image re-encoded without metadata.

    Returns (file name, "pdf" or "image"). The type is read from the content, never from
    the file name.
    """
    raw = data if isinstance(data, bytes) else data.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise ListingError("file", _l("The file is larger than 10 MB."))
    storage_dir.mkdir(parents=True, exist_ok=True)
    if raw.startswith(b"%PDF-"):
        if b"%%EOF" not in raw[-2048:]:
            raise ListingError("file", _l("The PDF is damaged or incomplete."))
        name = f"doc-{secrets.token_urlsafe(24)}.pdf"
        temporary = storage_dir / f".{name}.part"
        temporary.write_bytes(raw)
        temporary.replace(storage_dir / name)
        return name, "pdf"
    try:
        stored = store_photo(raw, storage_dir)
    except PhotoError:
        raise ListingError(
            "file", _l("Upload the document as a PDF, JPEG, PNG or WebP file.")
        ) from None
    return stored.filename("large", "jpg"), "image"


def delete_document_file(storage_dir: Path, file_name: str) -> None:
    """Remove a stored document (and, for an image, its other derivatives)."""
    path = document_path(storage_dir, file_name)
    if path is None:
        return
    if file_name.endswith("-large.jpg"):
        delete_photo(file_name.removesuffix("-large.jpg"), storage_dir)
    else:
        path.unlink(missing_ok=True)


def document_path(storage_dir: Path, file_name: str) -> Path | None:
    if not _DOCUMENT_NAME.fullmatch(file_name):
        return None
    path = storage_dir / file_name
    return path if path.is_file() else None


@dataclass(frozen=True)
class DocumentData:
    kind: DocumentKind
    number: str
    issued_on: date
    expires_on: date


def add_document(
    session: Session,
    vendor: Vendor,
    data: DocumentData,
    file_name: str,
    file_type: str,
    today: date,
) -> VendorDocument:
    number = data.number.strip()
    if not number:
        raise ListingError("number", _l("Enter the document number."))
    if data.expires_on < data.issued_on:
        raise ListingError("expires_on", _l("The expiry date is before the issue date."))
    if data.expires_on < today:
        raise ListingError("expires_on", _l("This document has already expired."))
    if data.issued_on > today:
        raise ListingError("issued_on", _l("The issue date is in the future."))
    document = VendorDocument(
        vendor=vendor,
        kind=data.kind,
        number=number,
        issued_on=data.issued_on,
        expires_on=data.expires_on,
        file_name=file_name,
        file_type=file_type,
        status=DocumentStatus.PENDING,
    )
    session.add(document)
    session.flush()
    return document


def verify_document(
    session: Session, document: VendorDocument, reviewer_id: int | None, today: date
) -> list[Product]:
    """Mark the document verified; returns the listings it puts back on sale."""
    if document.status is not DocumentStatus.PENDING:
        raise ListingError("status", _l("Only a document waiting for review can be verified."))
    if document.expires_on < today:
        raise ListingError("expires_on", _l("This document has already expired."))
    document.status = DocumentStatus.VERIFIED
    document.reviewed_at = utcnow()
    document.reviewed_by_id = reviewer_id
    relisted = []
    for product in document.vendor.products:
        previous = delisting_document(session, product)
        if previous is not None and previous.kind is document.kind:
            product.delisted_reason = ""
            relisted.append(product)
    session.flush()
    return relisted


def reject_document(
    session: Session, document: VendorDocument, reviewer_id: int | None, reason: str
) -> None:
    reason = reason.strip()
    if not reason:
        raise ListingError("reason", _l("Give a reason."))
    if document.status is not DocumentStatus.PENDING:
        raise ListingError("status", _l("Only a document waiting for review can be rejected."))
    document.status = DocumentStatus.REJECTED
    document.rejection_reason = reason
    document.reviewed_at = utcnow()
    document.reviewed_by_id = reviewer_id
    session.flush()


def relies_on(product: Product, kind: DocumentKind) -> bool:
    if kind is DocumentKind.HALAL:
        return DietaryTag.HALAL.value in (product.tags or [])
    return True


def delisting_document(session: Session, product: Product) -> VendorDocument | None:
    """The expired document that took the listing off sale, if any."""
    if not product.delisted_reason.startswith(DELISTED_PREFIX):
        return None
    document_id = product.delisted_reason.removeprefix(DELISTED_PREFIX)
    return session.get(VendorDocument, int(document_id)) if document_id.isdigit() else None


@dataclass
class ExpiryReport:
    expired: list[VendorDocument]
    delisted: list[Product]
    warnings: list[tuple[VendorDocument, int]]  # document, days left


def _has_valid_replacement(vendor: Vendor, expired: VendorDocument, today: date) -> bool:
    return any(
        other.id != expired.id
        and other.kind is expired.kind
        and other.status is DocumentStatus.VERIFIED
        and other.expires_on >= today
        for other in vendor.documents
    )


def expire_documents(
    session: Session, today: date, *, vendor: Vendor | None = None, now: datetime | None = None
) -> ExpiryReport:
    """Expire verified documents past their date, delist what relied on them, and note the
    30- and 7-day warnings that are due. Safe to run repeatedly."""
    now = now or utcnow()
    query = select(VendorDocument).where(VendorDocument.status == DocumentStatus.VERIFIED)
    if vendor is not None:
        query = query.where(VendorDocument.vendor_id == vendor.id)
    report = ExpiryReport(expired=[], delisted=[], warnings=[])
    for document in session.scalars(query.order_by(VendorDocument.id)):
        days_left = (document.expires_on - today).days
        if days_left < 0:
            document.status = DocumentStatus.EXPIRED
            report.expired.append(document)
            if _has_valid_replacement(document.vendor, document, today):
                continue
            for product in document.vendor.products:
                if relies_on(product, document.kind) and not product.delisted_reason:
                    product.delisted_reason = f"{DELISTED_PREFIX}{document.id}"
                    report.delisted.append(product)
            continue
        if days_left <= WARNING_DAYS[1] and document.warned_7_at is None:
            document.warned_7_at = now
            report.warnings.append((document, days_left))
        elif days_left <= WARNING_DAYS[0] and document.warned_30_at is None:
            document.warned_30_at = now
            report.warnings.append((document, days_left))
    session.flush()
    return report


def documents_expiring_soon(vendor: Vendor, today: date) -> list[tuple[VendorDocument, int]]:
    """Verified documents that expire within 30 days, with the days left, for the desk."""
    return [
        (document, (document.expires_on - today).days)
        for document in vendor.documents
        if document.status is DocumentStatus.VERIFIED
        and 0 <= (document.expires_on - today).days <= WARNING_DAYS[0]
    ]

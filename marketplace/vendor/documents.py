"""Recording the effects of document expiry in the audit trail."""

from __future__ import annotations

from sqlalchemy.orm import Session

from catalog.documents import ExpiryReport
from marketplace.audit.services import record_event


def record_expiry(session: Session, report: ExpiryReport) -> None:
    """One audit event per expired document, delisted product and warning given."""
    for document in report.expired:
        record_event(
            session,
            None,
            "document.expire",
            "vendor_document",
            document.id,
            after={"kind": document.kind.value, "expires_on": document.expires_on.isoformat()},
            vendor_id=document.vendor_id,
        )
    for product in report.delisted:
        record_event(
            session,
            None,
            "product.delist",
            "product",
            product.id,
            after={"reason": product.delisted_reason},
            vendor_id=product.vendor_id,
        )
    for document, days_left in report.warnings:
        record_event(
            session,
            None,
            "document.expiry_warning",
            "vendor_document",
            document.id,
            after={"days_left": days_left},
            vendor_id=document.vendor_id,
        )

"""Recording the effects of document expiry in the audit trail, and warning the vendor's
people of documents about to expire."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from catalog.documents import WARNING_DAYS, ExpiryReport
from catalog.models import VendorDocument
from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.i18n import local_date
from marketplace.notifications.services import notify_user, vendor_people


def record_expiry(session: Session, report: ExpiryReport) -> None:
    """One audit event per expired document, delisted product and warning given; each
    warning also tells the vendor's people (in the app, and by e-mail as they chose)."""
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
        warn_vendor_people(session, document, days_left)


def warn_vendor_people(session: Session, document: VendorDocument, days_left: int) -> None:
    # The catalogue gives each warning (30 and 7 days ahead) once; the key keeps it so.
    threshold = min(days for days in WARNING_DAYS if days_left <= days)
    late_30_day_warning = (
        document.warned_7_at is not None
        and document.warned_30_at is not None
        and document.warned_30_at > document.warned_7_at
    )
    if late_30_day_warning:  # a 30-day warning after the 7-day one tells nothing new
        return

    def facts() -> list[tuple[str, str]]:
        return [
            (_("Document"), document.kind.label),
            (_("Number"), document.number),
            (_("Valid until"), local_date(document.expires_on, "medium")),
        ]

    for user_id in vendor_people(session, document.vendor_id):
        user = session.get(User, user_id)
        if user is not None and user.active:
            notify_user(
                session,
                user,
                "document.expiring",
                facts=facts,
                dedupe_key=f"document:{document.id}:{threshold}:{user_id}",
            )

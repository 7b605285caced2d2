"""Issuing the BAST and the invoice at receipt, numbering them, and correcting them.

The content of a document is frozen at issue as JSON (with its SHA-256) and rendered from
that alone, so the document reads the same forever, whatever later happens to the vendor's
profile, the tax table or the templates' data. Numbers run per agency, kind and year
without gaps: the counter moves in the receipt's own transaction.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Subquery, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from catalog.db import utcnow
from marketplace.accounts.models import Membership, Role, User
from marketplace.audit.models import AuditEvent
from marketplace.audit.services import record_event
from marketplace.documents.models import DocumentCounter, DocumentKind, IssuedDocument
from marketplace.errors import Conflict, DomainError, NotFound, PermissionDenied
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.permissions import can_correct_documents, can_view_order
from marketplace.taxes.services import compute_taxes


class DocumentChangeRefused(RuntimeError):
    """Raised when code tries to change or delete an issued document."""


@event.listens_for(IssuedDocument, "before_update")
@event.listens_for(IssuedDocument, "before_delete")
def _refuse_change(_mapper: object, _connection: object, target: IssuedDocument) -> None:
    raise DocumentChangeRefused(
        f"issued document {target.id} never changes; issue a corrected version instead"
    )


# Numbers -----------------------------------------------------------------------------


def next_sequence(session: Session, agency_id: int, year: int, kind: DocumentKind) -> int:
    """The next number of the agency's series, taken under the counter's row lock."""
    where = (
        DocumentCounter.agency_id == agency_id,
        DocumentCounter.year == year,
        DocumentCounter.kind == kind,
    )
    for _attempt in range(3):
        number = session.execute(
            update(DocumentCounter)
            .where(*where)
            .values(last_number=DocumentCounter.last_number + 1)
            .returning(DocumentCounter.last_number)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if number is not None:
            return number
        # The first document of the year: create the series. Two receipts may race to do
        # it; the loser's insert fails on the primary key and it takes the next number.
        try:
            with session.begin_nested():
                session.add(DocumentCounter(agency_id=agency_id, year=year, kind=kind))
        except IntegrityError:
            pass
    raise RuntimeError("could not take a document number")  # pragma: no cover


def format_number(kind: DocumentKind, agency_code: str, year: int, sequence: int) -> str:
    return f"{kind.prefix}/{agency_code}/{year}/{sequence:05d}"


# Content -----------------------------------------------------------------------------


def content_digest(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_intact(document: IssuedDocument) -> bool:
    """Whether the stored content still matches the digest taken at issue."""
    return content_digest(document.content) == document.content_sha256


def invoice_amounts(content: dict[str, Any]) -> dict[str, int | None]:
    """The amounts an invoice's content states, for the document's own columns (None for a
    BAST, which states what was received, not what is owed)."""
    if content.get("kind") != DocumentKind.INVOICE.value:
        return dict.fromkeys(("gross", "charged_total", "withheld_total", "net_payable"))
    taxes = content["taxes"]
    return {
        "gross": int(content["gross"]),
        "charged_total": int(taxes["charged_total"]),
        "withheld_total": int(taxes["withheld_total"]),
        "net_payable": int(content["net_payable"]),
    }


def _local_date(moment: datetime) -> date:
    return moment.astimezone(JAKARTA).date()


def _agency_signatory(session: Session, order: Order) -> User | None:
    """The commitment officer (PPK) who signs for the agency: whoever confirmed receipt if
    they are the agency's approver, otherwise the approver who approved the order."""
    received_by = session.get(User, order.received_by_id) if order.received_by_id else None
    approved_by = session.get(User, order.approved_by_id) if order.approved_by_id else None
    for user in (received_by, approved_by):
        if user is None:
            continue
        if any(
            m.role is Role.APPROVER and m.agency_id == order.agency_id for m in user.memberships
        ):
            return user
    return approved_by


def _vendor_signatory(session: Session, order: Order) -> dict[str, str]:
    vendor = order.vendor
    owner = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.vendor_id == vendor.id, Membership.role == Role.VENDOR_OWNER)
        .order_by(Membership.id)
        .limit(1)
    ).first()
    name = vendor.contact_person or (owner.name if owner else "") or vendor.legal_name
    position = owner.position if owner is not None and owner.position != "Staf" else ""
    return {"name": name, "position": position}


def _dispute_resolution(session: Session, order: Order) -> dict[str, str]:
    """Who settled a refused delivery and why it was refused, for the record."""
    dispute = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "order",
            AuditEvent.object_id == order.id,
            AuditEvent.action == "order.dispute",
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    curator = session.get(User, order.received_by_id) if order.received_by_id else None
    return {
        "dispute_reason": str((dispute.after or {}).get("reason", "")) if dispute else "",
        "resolved_by": curator.name if curator else "",
        "resolved_by_position": curator.position if curator else "",
    }


def build_content(
    session: Session, order: Order, kind: DocumentKind, payment_due_days: int
) -> dict[str, Any]:
    """Everything the document shows, from the order as it stands (at receipt)."""
    if order.received_at is None or order.received_total is None:
        raise DomainError(_l("Documents are issued when the receipt is confirmed."))
    received_on = _local_date(order.received_at)
    vendor, agency, budget_line = order.vendor, order.agency, order.budget_line
    signatory = _agency_signatory(session, order)
    content: dict[str, Any] = {
        "kind": kind.value,
        "received_on": received_on.isoformat(),
        "order": {
            "number": order.reference,
            "request_number": order.request_number or "",
            "activity": order.activity_name,
            "delivery_date": order.delivery_date.isoformat() if order.delivery_date else "",
            "delivery_time": order.delivery_time.strftime("%H:%M") if order.delivery_time else "",
            "delivery_until": (
                order.delivery_until.strftime("%H:%M") if order.delivery_until else ""
            ),
            "delivery_address": order.delivery_address,
            "headcount": order.headcount,
            "handed_over_at": (
                order.handed_over_at.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M")
                if order.handed_over_at
                else ""
            ),
            "on_time": order.on_time,
        },
        "agency": {
            "name": agency.name,
            "code": agency.code,
            "address": agency.address,
            "city": agency.city,
        },
        "vendor": {
            "legal_name": vendor.legal_name,
            "trading_name": vendor.trading_name,
            "nib": vendor.nib or "",
            "npwp": vendor.npwp or "",
            "regional_tax_number": vendor.regional_tax_number or "",
            "district": vendor.district,
            "city": vendor.city,
            "phone": vendor.phone,
            "scale": vendor.scale.value,
            "bank_name": vendor.bank_name,
            "bank_account_number": vendor.bank_account_number,
            "bank_account_holder": vendor.bank_account_holder,
        },
        "budget_line": {
            "account_code": budget_line.account_code if budget_line else "",
            "name": budget_line.name if budget_line else "",
        },
        "lines": [
            {
                "name": line.product_name,
                "unit": line.unit.value,
                "unit_price": line.unit_price,
                "quantity_ordered": line.quantity,
                "quantity_received": line.quantity_received or 0,
                "amount": line.received_line_total or 0,
                "remark": line.receipt_remark,
            }
            for line in order.lines
        ],
        "ordered_total": order.total,
        "gross": order.received_total,
        "signatories": {
            "agency": {
                "name": signatory.name if signatory else "",
                "position": signatory.position if signatory else "",
            },
            "vendor": _vendor_signatory(session, order),
        },
    }
    if order.disputed_at is not None:
        content["resolution"] = _dispute_resolution(session, order)
    if kind is DocumentKind.INVOICE:
        bast = session.scalars(
            select(IssuedDocument)
            .where(IssuedDocument.order_id == order.id, IssuedDocument.kind == DocumentKind.BAST)
            .order_by(IssuedDocument.version.desc())
            .limit(1)
        ).first()
        content["bast_number"] = bast.display_number if bast else ""
        breakdown = compute_taxes(session, vendor, order.received_total, received_on)
        content["taxes"] = breakdown.as_dict()
        content["net_payable"] = breakdown.net_payable
        content["payment_due_on"] = (received_on + timedelta(days=payment_due_days)).isoformat()
    return content


# Issuing -----------------------------------------------------------------------------


def _issue(
    session: Session,
    actor: User | None,
    order: Order,
    kind: DocumentKind,
    content: dict[str, Any],
    *,
    previous: IssuedDocument | None = None,
    reason: str = "",
    changed: list[str] | None = None,
) -> IssuedDocument:
    if previous is None:
        year = date.fromisoformat(content["received_on"]).year
        sequence = next_sequence(session, order.agency_id, year, kind)
        number, version = format_number(kind, order.agency.code, year, sequence), 1
    else:
        year, sequence = previous.year, previous.sequence
        number, version = previous.number, previous.version + 1
    document = IssuedDocument(
        kind=kind,
        order_id=order.id,
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
        year=year,
        sequence=sequence,
        number=number,
        version=version,
        supersedes_id=previous.id if previous else None,
        correction_reason=reason,
        content=content,
        content_sha256=content_digest(content),
        issued_at=utcnow(),
        issued_by_id=actor.id if actor else None,
        **invoice_amounts(content),
    )
    session.add(document)
    if kind == DocumentKind.INVOICE:
        # the current invoice's amounts, on the order for finance's sums
        order.invoice_gross, order.net_payable = document.gross, document.net_payable
    session.flush()
    record_event(
        session,
        actor,
        "document.issue" if previous is None else "document.correct",
        "order",
        order.id,
        after={
            "document_id": document.id,
            "kind": kind.value,
            "number": number,
            "version": version,
            "sha256": document.content_sha256,
            **({"reason": reason} if reason else {}),
            **({"changed": changed} if changed else {}),
        },
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
    )
    return document


def issue_receipt_documents(
    session: Session, actor: User | None, order: Order, *, payment_due_days: int = 14
) -> list[IssuedDocument]:
    """The BAST, and the invoice when something was received, in the receipt's transaction."""
    kinds = [DocumentKind.BAST]
    if order.received_total:
        kinds.append(DocumentKind.INVOICE)
    return [
        _issue(session, actor, order, kind, build_content(session, order, kind, payment_due_days))
        for kind in kinds
    ]


def issue_correction(
    session: Session,
    actor: User,
    document: IssuedDocument,
    reason: str,
    *,
    payment_due_days: int = 14,
) -> IssuedDocument:
    """Issue a new version of `document` from the order's current data, with a reason.

    The old version stays as it was; the new one names it. Quantities and amounts cannot
    differ (they are the receipt's), but parties, signatories and taxes can.
    """
    order = document.order
    if not can_correct_documents(actor, order):
        raise PermissionDenied(_l("You cannot correct this order's documents."))
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Say what the correction is for."), field="reason")
    from marketplace.payments.services import amount_paid  # payments build on documents

    if amount_paid(session, order.id) > 0:
        raise Conflict(
            _l(
                "Part of this order is already paid against the issued invoice; settle the"
                " difference with a refund instead of a correction."
            )
        )
    # Serialise corrections of one order: the second waits, then sees the first's version.
    session.scalars(select(Order.id).where(Order.id == order.id).with_for_update()).one()
    latest = latest_version(session, document)
    if latest.id != document.id:
        raise Conflict(
            _l(
                "Version %(version)d of %(number)s has been issued since; correct that one.",
                version=latest.version,
                number=latest.number,
            )
        )
    content = build_content(session, order, document.kind, payment_due_days)
    # The issue date of the receipt stays; only what was wrong changes.
    if content_digest(content) == document.content_sha256:
        raise DomainError(
            _l(
                "Nothing differs from the issued version. Correct the data first (for example"
                " the vendor's profile or the tax table), then issue the correction."
            ),
            field="reason",
        )
    changed = sorted(
        key
        for key in content.keys() | document.content.keys()
        if content.get(key) != document.content.get(key)
    )
    return _issue(
        session,
        actor,
        order,
        document.kind,
        content,
        previous=document,
        reason=reason,
        changed=changed,
    )


# Reading -----------------------------------------------------------------------------


def current_invoices(order_ids: Any = None) -> Subquery:
    """Each order's current invoice, of some orders (a list or a select of ids) or all:
    order_id, document_id, number, version, gross, charged_total, withheld_total,
    net_payable. `latest_version`, for many.

    A correction supersedes the version before it (`supersedes_id`, unique), so the current
    version is the one nothing supersedes: one pass over the invoices with an index probe
    each, instead of grouping every invoice by order and joining the groups back. The
    amounts are the document's columns (copied from its content at issue), which the
    (order_id, kind, ...) index covers."""
    newer = aliased(IssuedDocument, name="newer_document")
    of_orders = [] if order_ids is None else [IssuedDocument.order_id.in_(order_ids)]
    return (
        select(
            IssuedDocument.order_id.label("order_id"),
            IssuedDocument.id.label("document_id"),
            IssuedDocument.number.label("number"),
            IssuedDocument.version.label("version"),
            IssuedDocument.gross.label("gross"),
            IssuedDocument.charged_total.label("charged_total"),
            IssuedDocument.withheld_total.label("withheld_total"),
            IssuedDocument.net_payable.label("net_payable"),
        )
        .where(
            IssuedDocument.kind == DocumentKind.INVOICE,
            ~select(newer.id).where(newer.supersedes_id == IssuedDocument.id).exists(),
            *of_orders,
        )
        .subquery("current_invoices")
    )


def latest_version(session: Session, document: IssuedDocument) -> IssuedDocument:
    return session.scalars(
        select(IssuedDocument)
        .where(
            IssuedDocument.agency_id == document.agency_id,
            IssuedDocument.kind == document.kind,
            IssuedDocument.year == document.year,
            IssuedDocument.sequence == document.sequence,
        )
        .order_by(IssuedDocument.version.desc())
        .limit(1)
    ).one()


def documents_of_order(session: Session, order: Order) -> list[IssuedDocument]:
    """Every version of every document of the order: BAST first, newest version first."""
    rows = session.scalars(
        select(IssuedDocument)
        .where(IssuedDocument.order_id == order.id)
        .order_by(IssuedDocument.kind, IssuedDocument.version.desc())
    )
    return list(rows)


def current_documents(session: Session, order: Order) -> list[IssuedDocument]:
    seen: set[DocumentKind] = set()
    current = []
    for document in documents_of_order(session, order):
        if document.kind not in seen:
            seen.add(document.kind)
            current.append(document)
    return current


def get_visible_document(
    session: Session, user: User, order: Order, document_id: int
) -> IssuedDocument:
    document = session.get(IssuedDocument, document_id)
    if document is None or document.order_id != order.id or not can_view_order(user, order):
        raise NotFound(_l("No such document."))
    return document

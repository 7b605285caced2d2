"""A world for the authorization matrix: one of each tenant object, for the world's own agency
and vendor ("own") and for the other agency and vendor ("foreign")."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import documents as vendor_documents
from catalog.enums import DocumentKind
from marketplace.accounts.models import Role
from marketplace.api import tokens
from marketplace.api.schemas import ALL_SCOPES
from marketplace.delivery import services as delivery
from marketplace.documents.services import documents_of_order
from marketplace.ordering import services as ordering
from marketplace.payments import services as payments
from marketplace.taxes.models import TaxRule
from marketplace.vendor import services as vendor_desk
from tests.support import World, user_with_roles

ROLES = [
    "requester",
    "approver",
    "budget_holder",
    "treasurer",
    "vendor_owner",
    "vendor_staff",
    "finance",
    "curator",
    "auditor",
    "other_requester",
    "other_approver",
    "other_vendor_owner",
    "anonymous",
]


def jpeg_bytes(colour: str = "orange", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "JPEG")
    return buffer.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _mirror(session: Session, world: World) -> World:
    """The same world seen from the other agency and the other vendor."""
    other_treasurer = user_with_roles(session, Role.TREASURER, agency=world.other_agency)
    return dataclasses.replace(
        world,
        agency=world.other_agency,
        vendor=world.other_vendor,
        product=world.other_product,
        line=world.other_line,
        requester=world.other_requester,
        approver=world.other_approver,
        treasurer=other_treasurer,
        vendor_owner=world.other_vendor_owner,
    )


def _tenant_objects(session: Session, side: World, upload_dir: Path) -> dict[str, int | str]:
    """Ids of one object of each kind belonging to `side`'s agency and vendor."""
    submitted = side.order_in(session, "submitted")
    returned = side.order_in(session, "submitted")
    ordering.return_order(session, side.approver, returned, "Kurangi porsinya")
    accepted = side.order_in(session, "accepted")
    disputed = side.order_in(session, "disputed")
    delivered = side.order_in(session, "accepted")
    delivery.deliver_order(
        session,
        side.vendor_owner,
        delivered,
        delivery.DeliveryReport(photos=[jpeg_bytes()]),
        storage_dir=upload_dir / "order-photos",
    )
    [photo] = delivery.order_photos(session, delivered)
    received = side.order_in(session, "received")
    paid = side.order_in(session, "delivered")
    delivery.receive_order(
        session,
        side.approver,
        paid,
        [delivery.LineReceipt(line.id, line.quantity) for line in paid.lines],
    )
    payment = payments.record_transfer(
        session,
        side.treasurer,
        [paid],
        payments.TransferDetails(
            reference=f"SP2D-M{paid.id:05d}",
            paid_on=payments.jakarta_today(),
            amount=payments.outstanding(session, paid),
            payer_account="RKUD Provinsi DKI Jakarta",
            proof=PDF_BYTES,
        ),
        storage_dir=upload_dir / payments.PROOF_FILES,
    )
    document = documents_of_order(session, received)[0]
    today = payments.jakarta_today()
    vendor_document = vendor_desk.upload_document(
        session,
        side.vendor_owner,
        side.vendor,
        vendor_documents.DocumentData(
            kind=DocumentKind.HALAL,
            number=f"ID3111000{side.vendor.id:04d}",
            issued_on=today - timedelta(days=30),
            expires_on=today + timedelta(days=365),
        ),
        PDF_BYTES,
        upload_dir / "documents",
        today,
    )
    return {
        "order": submitted.id,
        "request": submitted.request_number or "",
        "order_returned": returned.id,
        "order_accepted": accepted.id,
        "order_delivered": delivered.id,
        "photo": photo.id,
        "order_disputed": disputed.id,
        "order_received": received.id,
        "document": document.id,
        "order_paid": paid.id,
        "payment": payment.id,
        "line": side.line.id,
        "product": side.product.id,
        "vendor": side.vendor.id,
        "vendor_document": vendor_document.id,
        "agency": side.agency.id,
    }


@dataclasses.dataclass
class MatrixWorld:
    world: World
    ids: dict[str, dict[str, int | str]]  # tenant ("own", "foreign", "none") -> name -> id
    tokens: dict[str, str]  # role -> API bearer secret


def build_matrix_world(session: Session, world: World, upload_dir: str) -> MatrixWorld:
    root = Path(upload_dir)
    own = _tenant_objects(session, world, root)
    foreign = _tenant_objects(session, _mirror(session, world), root)
    shared = {
        "category": world.product.category_id,
        "tax_rule": session.scalars(select(TaxRule.id).order_by(TaxRule.id)).first(),
    }
    secrets = {
        role: tokens.create_token(session, user, "Matrix", list(ALL_SCOPES))[1]
        for role, user in world.users().items()
    }
    session.flush()
    return MatrixWorld(
        world=world,
        ids={"own": {**shared, **own}, "foreign": {**shared, **foreign}, "none": shared},
        tokens=secrets,
    )

"""The BAST and the invoice as pages and PDFs, their corrections, and the SPJ bundle."""

from __future__ import annotations

import io

from flask import Blueprint, Response, flash, redirect, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.db import get_session
from marketplace.delivery.services import order_photos
from marketplace.documents import rendering, services
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.ordering import services as ordering
from marketplace.ordering.forms import ReasonForm
from marketplace.permissions import can_download_accountability_bundle
from marketplace.web import order_rules

bp = Blueprint("documents", __name__)


def _document(order_id: int, document_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = ordering.get_visible_order(db, current_user, order_id)
    return order, services.get_visible_document(db, current_user, order, document_id)


def _private(response: Response) -> Response:
    # Invoices carry bank accounts and tax numbers: never kept by shared caches.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/orders/<int:order_id>/documents/<int:document_id>")
@login_required
def view(order_id: int, document_id: int):  # type: ignore[no-untyped-def]
    _order, document = _document(order_id, document_id)
    return _private(Response(rendering.render_html(document), mimetype="text/html"))


@bp.get("/orders/<int:order_id>/documents/<int:document_id>.pdf")
@login_required
def pdf(order_id: int, document_id: int):  # type: ignore[no-untyped-def]
    _order, document = _document(order_id, document_id)
    response = send_file(
        io.BytesIO(rendering.render_pdf(document)),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=rendering.file_name(document, "pdf"),
    )
    return _private(response)


@bp.post("/orders/<int:order_id>/documents/<int:document_id>/correct")
@login_required
def correct(order_id: int, document_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order, document = _document(order_id, document_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Say what the correction is for."), "error")
        return redirect(url_for("ordering.order", order_id=order.id, _anchor="documents"))
    try:
        corrected = services.issue_correction(
            db,
            current_user,
            document,
            form.reason.data or "",
            payment_due_days=order_rules().payment_due_days,
        )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:  # nothing is saved; the person reads why
        db.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("ordering.order", order_id=order.id, _anchor="documents"))
    db.commit()
    flash(
        _(
            "Version %(version)d of %(number)s is issued; the earlier version is kept.",
            version=corrected.version,
            number=corrected.number,
        ),
        "success",
    )
    return redirect(url_for("ordering.order", order_id=order.id, _anchor="documents"))


@bp.get("/orders/<int:order_id>/spj.zip")
@login_required
def accountability_bundle(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = ordering.get_visible_order(db, current_user, order_id)
    if not can_download_accountability_bundle(current_user, order):
        raise PermissionDenied(_("The accountability bundle is for the agency's officials."))
    if not services.documents_of_order(db, order):
        raise NotFound(_("This order has no documents yet."))
    data = rendering.accountability_bundle(db, order, order_photos(db, order))
    response = send_file(
        io.BytesIO(data),
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"SPJ-{order.id}-{order.reference}.zip".replace("/", "-"),
    )
    return _private(response)

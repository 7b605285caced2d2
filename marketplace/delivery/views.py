"""Marking an order delivered, confirming receipt line by line, refusing receipt, the
curator's resolution, and the photos attached along the way."""

from __future__ import annotations

from datetime import datetime
from typing import BinaryIO

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage

from catalog.photos import photo_path
from marketplace.accounts.recent import recent_login_required
from marketplace.db import get_session
from marketplace.delivery import services
from marketplace.delivery.forms import DeliveryForm, DisputeForm
from marketplace.delivery.models import OrderPhoto
from marketplace.documents.rendering import ORDER_PHOTOS
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import rupiah
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import OrderAction
from marketplace.permissions import can_act, can_view_order
from marketplace.web import order_rules, show_error, upload_dir

bp = Blueprint("delivery", __name__)


def _uploads(files: list[FileStorage]) -> list[BinaryIO]:
    """The files actually chosen (a form without a file still sends an empty part)."""
    return [f.stream for f in files if f is not None and f.filename]


def _version() -> int | None:
    return request.form.get("version", type=int)


# Delivery ----------------------------------------------------------------------------


@bp.route("/orders/<int:order_id>/delivery", methods=["GET", "POST"])
@login_required
def deliver(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = ordering.get_visible_order(db, current_user, order_id)
    if not can_act(current_user, order, OrderAction.DELIVER):
        raise PermissionDenied(_("You cannot mark this order delivered."))
    form = DeliveryForm()
    if request.method == "GET":
        now = datetime.now(JAKARTA)
        form.handed_over_date.data, form.handed_over_time.data = now.date(), now.time()
    if form.validate_on_submit():
        handed_over = datetime.combine(
            form.handed_over_date.data,  # type: ignore[arg-type]
            form.handed_over_time.data,  # type: ignore[arg-type]
            tzinfo=JAKARTA,
        )
        report = services.DeliveryReport(
            handed_over_at=handed_over,
            note=form.note.data or "",
            photos=_uploads(request.files.getlist(form.photos.name)),
        )
        try:
            services.deliver_order(
                db, current_user, order, report, storage_dir=upload_dir(ORDER_PHOTOS)
            )
        except (PermissionDenied, NotFound):
            raise
        except DomainError as error:
            db.rollback()
            if error.field == "handed_over_at":
                error.field = "handed_over_time"
            show_error(form, error)
        else:
            db.commit()
            flash(
                _(
                    "Order %(ref)s is marked delivered. The agency confirms receipt next.",
                    ref=order.reference,
                ),
                "success",
            )
            return redirect(url_for("ordering.order", order_id=order.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("delivery/deliver.html", order=order, form=form), status


# Receipt -----------------------------------------------------------------------------


def _parse_receipts(order: Order) -> tuple[list[services.LineReceipt], dict[int, str]]:
    """Read "received-<line id>" and "remark-<line id>" fields; collect per-line errors."""
    receipts, errors = [], {}
    for line in order.lines:
        raw = request.form.get(f"received-{line.id}", "").strip()
        try:
            quantity = int(raw)
        except ValueError:
            errors[line.id] = _("Enter a whole number from 0 to %(qty)d.", qty=line.quantity)
            continue
        if not 0 <= quantity <= line.quantity:
            errors[line.id] = _("Enter a whole number from 0 to %(qty)d.", qty=line.quantity)
            continue
        remark = request.form.get(f"remark-{line.id}", "")[:500]
        receipts.append(services.LineReceipt(line.id, quantity, remark))
    return receipts, errors


def _parse_on_time() -> bool | None:
    return {"yes": True, "no": False}.get(request.form.get("on_time", ""))


def _receipt_page(order: Order, action: OrderAction, errors: dict[int, str], status: int = 200):  # type: ignore[no-untyped-def]
    db = get_session()
    return render_template(
        "delivery/receive.html",
        order=order,
        action=action,
        errors=errors,
        values=request.form,
        dispute_form=DisputeForm(formdata=None),
        photos=services.order_photos(db, order),
        computed_on_time=services.delivered_on_time(order),
        deadline=services.delivery_deadline(order),
    ), status


@bp.route("/orders/<int:order_id>/receive", methods=["GET", "POST"])
@login_required
@recent_login_required
def receive(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = ordering.get_visible_order(db, current_user, order_id)
    action = OrderAction.RECEIVE
    if not can_act(current_user, order, action):
        raise PermissionDenied(_("You cannot confirm receipt of this order."))
    if request.method == "GET":
        return _receipt_page(order, action, {})
    receipts, errors = _parse_receipts(order)
    if errors:
        return _receipt_page(order, action, errors, 400)
    try:
        services.receive_order(
            db,
            current_user,
            order,
            receipts,
            on_time=_parse_on_time(),
            version=_version(),
            rules=order_rules(),
        )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return _receipt_page(order, action, {}, error.status_code)
    db.commit()
    flash(
        _(
            "Receipt of %(ref)s confirmed: %(amount)s is now spending. The handover certificate"
            " and the invoice are issued.",
            ref=order.reference,
            amount=rupiah(order.received_total),
        ),
        "success",
    )
    return redirect(url_for("ordering.order", order_id=order.id, _anchor="documents"))


@bp.post("/orders/<int:order_id>/dispute")
@login_required
def dispute(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = ordering.get_visible_order(db, current_user, order_id)
    if not can_act(current_user, order, OrderAction.DISPUTE):
        raise PermissionDenied(_("You cannot refuse receipt of this order."))
    form = DisputeForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("delivery.receive", order_id=order.id))
    try:
        services.dispute_order(
            db,
            current_user,
            order,
            form.reason.data or "",
            photos_=_uploads(request.files.getlist(form.photos.name)),
            storage_dir=upload_dir(ORDER_PHOTOS),
            version=_version(),
        )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("delivery.receive", order_id=order.id))
    db.commit()
    flash(_("Receipt refused. A curator will resolve the dispute."), "success")
    return redirect(url_for("ordering.order", order_id=order.id))


@bp.route("/orders/<int:order_id>/resolve", methods=["GET", "POST"])
@login_required
def resolve(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = ordering.get_visible_order(db, current_user, order_id)
    action = OrderAction.RESOLVE_ACCEPT
    if not can_act(current_user, order, action):
        raise PermissionDenied(_("You cannot resolve this dispute."))
    if request.method == "GET":
        return _receipt_page(order, action, {})
    if request.form.get("outcome") == "cancel":
        reason = request.form.get("reason", "").strip()[:1000]
        if not reason:
            flash(_("Give a reason."), "error")
            return _receipt_page(order, action, {}, 400)
        services.resolve_dispute_cancel(db, current_user, order, reason)
        db.commit()
        flash(
            _("The dispute is resolved: the order is cancelled and its budget released."), "success"
        )
        return redirect(url_for("ordering.order", order_id=order.id))
    receipts, errors = _parse_receipts(order)
    if errors:
        return _receipt_page(order, action, errors, 400)
    try:
        services.resolve_dispute_accept(
            db, current_user, order, receipts, on_time=_parse_on_time(), rules=order_rules()
        )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return _receipt_page(order, action, {}, error.status_code)
    db.commit()
    flash(_("The dispute is resolved: the order is received."), "success")
    return redirect(url_for("ordering.order", order_id=order.id, _anchor="documents"))


# Photos ------------------------------------------------------------------------------


@bp.get("/orders/<int:order_id>/photos/<int:photo_id>/<size>.<fmt>")
@login_required
def photo(order_id: int, photo_id: int, size: str, fmt: str):  # type: ignore[no-untyped-def]
    """A delivery or dispute photo, only for those who may see the order."""
    db = get_session()
    item = db.get(OrderPhoto, photo_id)
    if item is None or item.order_id != order_id or not can_view_order(current_user, item.order):
        raise NotFound(_("No such photo."))
    path = photo_path(upload_dir(ORDER_PHOTOS), f"{item.photo_key}-{size}.{fmt}")
    if path is None:
        raise NotFound(_("No such photo."))
    response = send_file(path, max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response

"""Confirming receipt line by line, refusing receipt, and the curator's resolution."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.db import get_session
from marketplace.errors import DomainError, PermissionDenied
from marketplace.i18n import rupiah
from marketplace.ordering import services
from marketplace.ordering.forms import ReasonForm
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderAction
from marketplace.permissions import can_act

bp = Blueprint("delivery", __name__)


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


def _receipt_page(order: Order, action: OrderAction, errors: dict[int, str], status: int = 200):  # type: ignore[no-untyped-def]
    return render_template(
        "delivery/receive.html",
        order=order,
        action=action,
        errors=errors,
        values=request.form,
        dispute_form=ReasonForm(),
    ), status


@bp.route("/orders/<int:order_id>/receive", methods=["GET", "POST"])
@login_required
def receive(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = services.get_visible_order(db, current_user, order_id)
    action = OrderAction.RECEIVE
    if not can_act(current_user, order, action):
        raise PermissionDenied(_("You cannot confirm receipt of this order."))
    if request.method == "GET":
        return _receipt_page(order, action, {})
    receipts, errors = _parse_receipts(order)
    if errors:
        return _receipt_page(order, action, errors, 400)
    try:
        services.receive_order(db, current_user, order, receipts)
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return _receipt_page(order, action, {}, 400)
    db.commit()
    flash(
        _(
            "Receipt of %(ref)s confirmed: %(amount)s is now spending.",
            ref=order.reference,
            amount=rupiah(order.received_total),
        ),
        "success",
    )
    return redirect(url_for("ordering.order", order_id=order.id))


@bp.post("/orders/<int:order_id>/dispute")
@login_required
def dispute(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = services.get_visible_order(db, current_user, order_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("delivery.receive", order_id=order.id))
    services.dispute_order(db, current_user, order, form.reason.data or "")
    db.commit()
    flash(_("Receipt refused. A curator will resolve the dispute."), "success")
    return redirect(url_for("ordering.order", order_id=order.id))


@bp.route("/orders/<int:order_id>/resolve", methods=["GET", "POST"])
@login_required
def resolve(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = services.get_visible_order(db, current_user, order_id)
    action = OrderAction.RESOLVE_ACCEPT
    if not can_act(current_user, order, action):
        raise PermissionDenied(_("You cannot resolve this dispute."))
    if request.method == "GET":
        return _receipt_page(order, action, {})
    if request.form.get("outcome") == "cancel":
        form = ReasonForm()
        if not form.validate_on_submit():
            flash(_("Give a reason."), "error")
            return _receipt_page(order, action, {}, 400)
        services.resolve_dispute_cancel(db, current_user, order, form.reason.data or "")
        db.commit()
        flash(
            _("The dispute is resolved: the order is cancelled and its budget released."), "success"
        )
        return redirect(url_for("ordering.order", order_id=order.id))
    receipts, errors = _parse_receipts(order)
    if errors:
        return _receipt_page(order, action, errors, 400)
    services.resolve_dispute_accept(db, current_user, order, receipts)
    db.commit()
    flash(_("The dispute is resolved: the order is received."), "success")
    return redirect(url_for("ordering.order", order_id=order.id))

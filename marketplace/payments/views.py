"""The treasurer's pages: what to pay, treasury transfers, payments and refunds; and the
vendor's view of the money coming."""

from __future__ import annotations

from itertools import groupby

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from catalog import documents as stored_files
from marketplace.accounts.recent import recent_login_required
from marketplace.db import get_session
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.i18n import rupiah
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.payments import services
from marketplace.payments.forms import RefundForm, TransferForm
from marketplace.payments.models import Payment, PaymentRail
from marketplace.permissions import can_pay, has_permission
from marketplace.web import order_rules, permission_required, show_error, upload_dir

bp = Blueprint("payments", __name__)


def card_enabled() -> bool:
    """The card rail shows only where Stripe is configured."""
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


@bp.app_context_processor
def _payment_helpers() -> dict[str, object]:
    return {"card_payments_enabled": card_enabled}


# What to pay -------------------------------------------------------------------------


@bp.get("/payments/")
@permission_required("order:pay")
def index():  # type: ignore[no-untyped-def]
    db = get_session()
    rows = services.payable_orders(db, current_user, order_rules().payment_due_days)
    rows.sort(key=lambda row: (row.order.vendor.trading_name, row.order.vendor_id))
    by_vendor = [
        (vendor_id, list(group))
        for vendor_id, group in groupby(rows, key=lambda row: row.order.vendor_id)
    ]
    recent = list(
        db.scalars(
            select(Payment)
            .where(Payment.agency_id.in_(sorted(current_user.agency_ids)))
            .order_by(Payment.id.desc())
            .limit(20)
        )
    )
    return render_template(
        "payments/index.html",
        by_vendor=by_vendor,
        overdue=sum(1 for row in rows if row.overdue),
        recent=recent,
        card_enabled=card_enabled(),
    )


def _chosen_orders(ids: list[int]) -> list[Order]:
    db = get_session()
    orders = [ordering.get_visible_order(db, current_user, order_id) for order_id in ids]
    for order in orders:
        if not can_pay(current_user, order):
            raise PermissionDenied(_("You cannot pay order %(ref)s.", ref=order.reference))
    return orders


def _transfer_page(orders: list[Order], form: TransferForm, status: int = 200):  # type: ignore[no-untyped-def]
    db = get_session()
    owed = sum(services.outstanding(db, order) for order in orders)
    if request.method == "GET" and form.amount.data is None:
        form.amount.data = owed
        form.paid_on.data = services.jakarta_today()
    return render_template(
        "payments/transfer.html",
        orders=orders,
        owed=owed,
        taxes={order.id: services.withheld_taxes(db, order) for order in orders},
        owed_by_order={order.id: services.outstanding(db, order) for order in orders},
        form=form,
    ), status


def _record_transfer(orders: list[Order]):  # type: ignore[no-untyped-def]
    db = get_session()
    form = TransferForm()
    if request.method == "GET" or not form.validate_on_submit():
        return _transfer_page(orders, form, 400 if request.method == "POST" else 200)
    upload = request.files.get(form.proof.name)
    details = services.TransferDetails(
        reference=form.reference.data or "",
        paid_on=form.paid_on.data,  # type: ignore[arg-type]
        amount=form.amount.data,  # type: ignore[arg-type]
        payer_account=form.payer_account.data or "",
        withholding_slips=(form.withholding_slips.data or "").replace(",", "\n").splitlines(),
        partial_reason=form.partial_reason.data or "",
        proof=upload.stream if upload is not None and upload.filename else None,
    )
    try:
        payment = services.record_transfer(
            db, current_user, orders, details, storage_dir=upload_dir(services.PROOF_FILES)
        )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        show_error(form, error)
        return _transfer_page(orders, form, error.status_code)
    db.commit()
    flash(
        _(
            "Transfer %(ref)s of %(amount)s is recorded.",
            ref=payment.reference,
            amount=rupiah(payment.amount),
        ),
        "success",
    )
    return redirect(url_for("payments.payment", payment_id=payment.id))


@bp.route("/orders/<int:order_id>/pay", methods=["GET", "POST"])
@login_required
@recent_login_required(on_get=True)
def pay_order(order_id: int):  # type: ignore[no-untyped-def]
    return _record_transfer(_chosen_orders([order_id]))


@bp.route("/payments/transfer", methods=["GET", "POST"])
@permission_required("order:pay")
@recent_login_required(on_get=True)
def transfer():  # type: ignore[no-untyped-def]
    ids = request.values.getlist("orders", type=int)
    if not ids:
        flash(_("Choose at least one order to pay."), "error")
        return redirect(url_for("payments.index"))
    orders = _chosen_orders(ids)
    if request.form.get("step") == "choose":  # coming from the list: show the empty form
        form = TransferForm(formdata=None)
        form.amount.data = sum(services.outstanding(get_session(), o) for o in orders)
        form.paid_on.data = services.jakarta_today()
        return _transfer_page(orders, form)
    return _record_transfer(orders)


# One payment -------------------------------------------------------------------------


def visible_payment(payment_id: int) -> Payment:
    """A payment the user may see: their agency's, their business's, or province roles."""
    payment = get_session().get(Payment, payment_id)
    if payment is None or not has_permission(
        current_user, "order:view", agency_id=payment.agency_id, vendor_id=payment.vendor_id
    ):
        raise NotFound(_("No such payment."))
    return payment


@bp.get("/payments/<int:payment_id>")
@login_required
def payment(payment_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    item = visible_payment(payment_id)
    refunds = [
        refund
        for allocation in item.allocations
        for refund in services.refunds_of_order(db, allocation.order_id)
        if refund.payment_id == item.id
    ]
    can_refund = any(can_pay(current_user, a.order) for a in item.allocations)
    return render_template(
        "payments/payment.html",
        payment=item,
        refunds=refunds,
        refund_form=RefundForm(formdata=None),
        can_refund=can_refund,
        refundable={
            a.order_id: services.refundable(db, item, a.order_id) for a in item.allocations
        },
    )


@bp.get("/payments/<int:payment_id>/proof")
@login_required
def proof(payment_id: int):  # type: ignore[no-untyped-def]
    item = visible_payment(payment_id)
    if not item.proof_file or not has_permission(
        current_user, "order:view", agency_id=item.agency_id
    ):
        raise NotFound(_("No proof was uploaded."))
    path = stored_files.document_path(upload_dir(services.PROOF_FILES), item.proof_file)
    if path is None:
        raise NotFound(_("No proof was uploaded."))
    response = send_file(path, as_attachment=True, download_name=f"bukti-{item.id}{path.suffix}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/payments/<int:payment_id>/refunds")
@login_required
@recent_login_required
def refund(payment_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    item = visible_payment(payment_id)
    form = RefundForm()
    back = redirect(url_for("payments.payment", payment_id=item.id))
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return back
    allocation = next((a for a in item.allocations if a.order_id == form.order_id.data), None)
    if allocation is None:
        raise NotFound(_("This payment did not cover that order."))
    try:
        if item.rail is PaymentRail.CARD:
            # The refund is committed before Stripe is asked, so that it is never lost.
            from marketplace.payments.card_views import refund_by_card

            refund_by_card(item, allocation.order, form.amount.data, form.reason.data or "")
            return back
        else:
            services.request_refund(
                db,
                current_user,
                item,
                allocation.order,
                form.amount.data,  # type: ignore[arg-type]
                form.reason.data or "",
                reference=form.reference.data or "",
            )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return back
    db.commit()
    flash(_("The refund of %(amount)s is recorded.", amount=rupiah(form.amount.data)), "success")
    return back

"""Pages of card payments (sending the treasurer to Stripe's page and back) and the endpoint
that receives Stripe's signed webhooks."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.db import get_session
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.extensions import csrf
from marketplace.ordering import services as ordering
from marketplace.payments import card, stripe_gateway
from marketplace.payments.models import Payment, PaymentRail, PaymentStatus
from marketplace.payments.stripe_gateway import GatewayError, StripeClientGateway
from marketplace.payments.views import card_enabled, visible_payment
from marketplace.permissions import has_permission
from marketplace.web import permission_required

bp = Blueprint("card_payments", __name__)
log = logging.getLogger(__name__)

#: a webhook must be answered within seconds: no retries, a short wait for Stripe
WEBHOOK_STRIPE_TIMEOUT = 5


def _gateway() -> StripeClientGateway:
    if not card_enabled():
        abort(404)
    return stripe_gateway.gateway_from_config(current_app.config)


def _card_payment() -> Payment:
    payment_id = request.args.get("payment", type=int)
    if payment_id is None:
        abort(404)
    payment = visible_payment(payment_id)
    if payment.rail is not PaymentRail.CARD:
        abort(404)
    return payment


def _can_act_on(payment: Payment) -> bool:
    return has_permission(current_user, "order:pay", agency_id=payment.agency_id)


@bp.post("/payments/card")
@permission_required("order:pay")
def start():  # type: ignore[no-untyped-def]
    gateway = _gateway()
    back = redirect(url_for("payments.index"), 303)
    ids = request.form.getlist("orders", type=int)
    if not ids:
        flash(_("Choose at least one order to pay."), "error")
        return back
    db = get_session()
    orders = [ordering.get_visible_order(db, current_user, order_id) for order_id in ids]

    def urls(payment: Payment) -> tuple[str, str]:
        return (
            url_for("card_payments.returned", payment=payment.id, _external=True),
            url_for("card_payments.cancelled", payment=payment.id, _external=True),
        )

    try:
        started = card.begin_checkout(
            db, current_user, orders, gateway, urls, locale=str(get_locale() or "") or None
        )
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return back
    db.commit()
    return redirect(started.url, 303)


@bp.get("/payments/card/return")
@login_required
def returned():  # type: ignore[no-untyped-def]
    # Only shows what is known: the browser coming back proves nothing about the money.
    payment = _card_payment()
    return render_template("payments/card_return.html", payment=payment, statuses=PaymentStatus)


@bp.get("/payments/card/cancelled")
@login_required
def cancelled():  # type: ignore[no-untyped-def]
    payment = _card_payment()
    stripe_url = None
    if payment.status is PaymentStatus.PENDING and payment.stripe_session_id and card_enabled():
        try:
            checkout = stripe_gateway.gateway_from_config(
                current_app.config, timeout=WEBHOOK_STRIPE_TIMEOUT, max_network_retries=0
            ).retrieve_checkout_session(payment.stripe_session_id)
        except GatewayError:
            checkout = {}
        if checkout.get("status") == "open":
            stripe_url = checkout.get("url")
    return render_template(
        "payments/card_cancelled.html",
        payment=payment,
        statuses=PaymentStatus,
        stripe_url=stripe_url,
        can_abandon=_can_act_on(payment) and payment.status is PaymentStatus.PENDING,
    )


@bp.post("/payments/card/<int:payment_id>/abandon")
@permission_required("order:pay")
def abandon(payment_id: int):  # type: ignore[no-untyped-def]
    gateway = _gateway()
    db = get_session()
    payment = visible_payment(payment_id)
    try:
        card.abandon_checkout(db, current_user, payment, gateway)
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("card_payments.cancelled", payment=payment_id), 303)
    db.commit()
    if payment.status is PaymentStatus.SUCCEEDED:
        flash(_("Stripe reports this payment as paid after all."), "success")
    elif payment.status is PaymentStatus.PENDING:
        flash(_("Stripe has not closed the payment page yet. Try again in a moment."), "error")
    else:
        flash(_("The card payment is cancelled. The orders can be paid again."), "success")
    return redirect(url_for("payments.index"), 303)


@bp.post("/payments/stripe/webhook")
@csrf.exempt
def webhook():  # type: ignore[no-untyped-def]
    config = current_app.config
    secret = config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret:
        abort(404)
    try:
        event = stripe_gateway.verify_webhook(
            request.get_data(),
            request.headers.get("Stripe-Signature"),
            secret,
            int(config.get("STRIPE_WEBHOOK_TOLERANCE", 300)),
        )
    except stripe_gateway.WebhookRejected as rejected:
        return jsonify(error=str(rejected)), 400
    db = get_session()
    first_delivery = card.record_event(db, event)
    row = card.lock_event(db, event["id"])
    if row is not None and row.processed_at is None:
        gateway = None
        if card_enabled():
            gateway = stripe_gateway.gateway_from_config(
                config, timeout=WEBHOOK_STRIPE_TIMEOUT, max_network_retries=0
            )
        savepoint = db.begin_nested()
        try:
            card.apply_event(db, row, gateway)
        except Exception as error:
            # kept, unapplied: Stripe delivers it again, and `flask payments process-events`
            savepoint.rollback()
            log.exception("Stripe event %s could not be applied", event["id"])
            row.outcome = f"error: {type(error).__name__}"
            db.commit()
            return jsonify(received=True, applied=False), 500
        savepoint.commit()
    db.commit()
    return jsonify(received=True, duplicate=not first_delivery)

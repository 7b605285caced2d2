"""Pages of card payments (sending the treasurer to Stripe's page and back), the card branch
of the refund form, and the endpoint that receives Stripe's signed webhooks."""

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

from marketplace.accounts.recent import recent_login_required
from marketplace.db import get_session
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.extensions import csrf
from marketplace.i18n import rupiah
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.payments import card, card_events, stripe_gateway
from marketplace.payments.models import Payment, PaymentRail, PaymentStatus
from marketplace.payments.stripe_gateway import GatewayError, StripeClientGateway, StripeGateway
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
@recent_login_required
def start():  # type: ignore[no-untyped-def]
    gateway = _gateway()
    back = redirect(url_for("payments.index"), 303)
    ids = list(dict.fromkeys(request.form.getlist("orders", type=int)))  # each order once
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
    can_act = _can_act_on(payment) and payment.status is PaymentStatus.PENDING
    stripe_url = None
    # the live page can be paid by whoever holds its URL: only the treasurer gets it (and
    # only their visit asks Stripe)
    if can_act and payment.stripe_session_id and card_enabled():
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
        can_abandon=can_act,
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
    elif payment.status is PaymentStatus.HELD:
        flash(
            _(
                "Stripe took a payment that does not match these orders. It is held for"
                " finance; the orders can be paid again."
            ),
            "error",
        )
    elif payment.status is PaymentStatus.PENDING:
        flash(_("Stripe has not closed the payment page yet. Try again in a moment."), "error")
    else:
        flash(_("The card payment is cancelled. The orders can be paid again."), "success")
    return redirect(url_for("payments.index"), 303)


def refund_by_card(
    payment: Payment,
    order: Order,
    amount: int,
    reason: str,
    *,
    gateway: StripeGateway | None = None,
) -> None:
    """The card branch of the refund form (`payments.refund`): flashes what happened; the
    caller redirects back to the payment.

    The pending refund, with its idempotency key, is committed before Stripe is asked, and
    Stripe's refund id in a second commit: if anything fails after Stripe refunded, the app
    still has the refund, and `flask payments sync` sends it again with the same key (Stripe
    answers with the same refund) and settles it.
    """
    db = get_session()
    if gateway is None:
        if not card_enabled():
            flash(_("Card payments are not configured here."), "error")
            return
        gateway = stripe_gateway.gateway_from_config(current_app.config)
    try:
        refund = card.request_card_refund(db, current_user, payment, order, amount, reason)
    except (PermissionDenied, NotFound):
        raise
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
        return
    db.commit()
    sent = card.send_card_refund(db, refund, gateway)
    db.commit()
    if sent.refused is not None:
        flash(_("Stripe refused the refund: %(reason)s", reason=sent.refused), "error")
    elif sent.unanswered is not None:
        flash(
            _(
                "The refund of %(amount)s is recorded. Stripe has not answered yet; it is sent"
                " again automatically.",
                amount=rupiah(amount),
            ),
            "info",
        )
    else:
        flash(_("The refund of %(amount)s is recorded.", amount=rupiah(amount)), "success")


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
            stripe_gateway.webhook_tolerance(config.get("STRIPE_WEBHOOK_TOLERANCE")),
        )
    except stripe_gateway.WebhookRejected as rejected:
        return jsonify(error=str(rejected)), 400
    db = get_session()
    first_delivery = card_events.record_event(db, event)
    row = card_events.lock_event(db, event["id"])
    if row is not None and row.processed_at is None:
        gateway = None
        if card_enabled():
            gateway = stripe_gateway.gateway_from_config(
                config, timeout=WEBHOOK_STRIPE_TIMEOUT, max_network_retries=0
            )
        savepoint = db.begin_nested()
        try:
            card_events.apply_event(db, row, gateway)
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

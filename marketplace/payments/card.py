"""The government-card rail through Stripe, as the app asks of it: opening Checkout, giving up
an open page, card refunds, and reading state back from Stripe to repair missed events.
What Stripe tells the app (its signed events) is applied in `card_events`; its public names
are importable from here too. Services: they flush, never commit.

A card payment succeeds only on Stripe's word (a verified event, or the state read back from
Stripe's API), never on the payer's browser coming back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.accounts.models import User
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.ordering.models import Order
from marketplace.payments import services
from marketplace.payments.card_events import (  # noqa: F401  (re-exported: the rail's interface)
    WAIT_FOR_RECORD,
    apply_event,
    apply_failure,
    apply_refund_state,
    apply_success,
    fail_refund,
    jakarta_date,
    lock_event,
    lock_payment,
    lock_refund,
    process_pending_events,
    record_event,
)
from marketplace.payments.models import (
    Payment,
    PaymentRail,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from marketplace.payments.stripe_gateway import (
    GatewayError,
    StripeGateway,
    gateway_from_config,
    to_minor_units,
)
from marketplace.permissions import has_permission

log = logging.getLogger(__name__)

#: (success URL, cancel URL) for a payment; known only once the payment has its id
CheckoutUrls = Callable[[Payment], tuple[str, str]]
#: an ended card payment may still be reported paid while its Checkout page lives (24 hours)
LATE_SUCCESS_WINDOW = timedelta(hours=48)
#: Stripe keeps idempotency keys for 24 hours; a refund whose creation went unanswered is
#: sent again with its key only within that time
REFUND_RETRY_WINDOW = timedelta(hours=23)
#: a succeeded card payment whose fee Stripe did not give yet is asked again this long
FEE_REPAIR_WINDOW = timedelta(days=30)


# Opening Stripe's page ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutStarted:
    payment: Payment
    #: Stripe's hosted page to send the payer to
    url: str


def begin_checkout(
    session: Session,
    actor: User,
    orders: Sequence[Order],
    gateway: StripeGateway,
    urls: CheckoutUrls,
    *,
    locale: str | None = None,
) -> CheckoutStarted:
    """A pending card payment for the orders and its Stripe Checkout Session.

    The session is created with the payment's idempotency key (the library retries timeouts
    with it, so Stripe makes one session however often the request is repeated). If Stripe
    cannot be reached the payment is rolled back and nothing is left behind.
    """
    savepoint = session.begin_nested()
    try:
        payment = services.start_card_payment(session, actor, orders)
        success_url, cancel_url = urls(payment)
        session_id, url = gateway.create_checkout_session(
            payment,
            success_url=success_url,
            cancel_url=cancel_url,
            description=f"e-Order {payment.agency.name} → {payment.vendor.legal_name}",
            locale=locale,
        )
    except GatewayError as error:
        savepoint.rollback()
        log.warning("Stripe refused or missed a Checkout Session: %s", error.message)
        raise DomainError(
            _l(
                "Stripe could not open the card payment page (%(reason)s). Nothing was"
                " charged: try again in a moment, or pay by treasury transfer.",
                reason=error.message,
            ),
            field="orders",
        ) from None
    except BaseException:
        savepoint.rollback()
        raise
    payment.stripe_session_id = session_id
    session.flush()
    savepoint.commit()
    return CheckoutStarted(payment=payment, url=url)


def abandon_checkout(
    session: Session, actor: User, payment: Payment, gateway: StripeGateway
) -> str:
    """The treasurer gives up a card payment left open on Stripe's page: Stripe closes the
    page, and the payment takes whatever state Stripe then reports (expired, or paid if the
    payer had paid after all)."""
    if not has_permission(actor, "order:pay", agency_id=payment.agency_id):
        raise PermissionDenied(_l("You cannot cancel this card payment."))
    if payment.rail is not PaymentRail.CARD or payment.status is not PaymentStatus.PENDING:
        raise Conflict(_l("This card payment is no longer waiting for Stripe."))
    if payment.stripe_session_id:
        try:
            gateway.expire_checkout_session(payment.stripe_session_id)
        except GatewayError as error:
            log.info("Checkout Session %s not expired: %s", payment.stripe_session_id, error)
    try:
        outcome = sync_payment(session, payment, gateway)
    except GatewayError as error:
        raise DomainError(
            _l("Stripe could not be asked about this payment (%(reason)s).", reason=error.message)
        ) from None
    return outcome or f"payment {payment.id} still open at Stripe"


# Card refunds ------------------------------------------------------------------------


def request_card_refund(
    session: Session, actor: User, payment: Payment, order: Order, amount: int, reason: str
) -> Refund:
    """Record a pending refund of part or all of a card payment's share of one order, with
    its own idempotency key. Nothing is sent to Stripe: the caller commits the refund first
    and then calls `send_card_refund`, so that Stripe never refunds money the app has not
    recorded. It succeeds (and the budget line gets the money back) only when Stripe
    confirms it, by a webhook or `flask payments sync`."""
    if payment.rail is not PaymentRail.CARD:
        raise DomainError(_l("Only a card payment is refunded through Stripe."))
    if not payment.stripe_payment_intent_id:
        raise Conflict(_l("Stripe has not confirmed this card charge yet; refund it later."))
    return services.request_refund(session, actor, payment, order, amount, reason)


@dataclass(frozen=True)
class RefundSent:
    #: what happened, for logs and `flask payments sync`
    outcome: str
    #: Stripe's reason when it refused the refund (now marked failed); None otherwise
    refused: str | None = None
    #: Stripe was not reached or did not answer; sync sends it again with the same key
    unanswered: str | None = None


def _create_at_stripe(refund: Refund, gateway: StripeGateway) -> None:
    payment = refund.payment
    data = gateway.create_refund(
        str(payment.stripe_payment_intent_id),
        to_minor_units(refund.amount),
        str(refund.idempotency_key),
        {
            "refund_id": str(refund.id),
            "refund_key": str(refund.idempotency_key),
            "payment_id": str(payment.id),
            "order": refund.order.reference,
        },
    )
    refund.stripe_refund_id = data["id"]


def send_card_refund(session: Session, refund: Refund, gateway: StripeGateway) -> RefundSent:
    """Ask Stripe for a recorded, committed pending refund, with the refund's own idempotency
    key (so sending it again never refunds twice) and record Stripe's refund id.

    Stripe refusing it (a 4xx answer) marks the refund failed, and its amount is refundable
    again; no answer leaves it pending without a Stripe id, for sync to send again.
    """
    locked = lock_refund(session, refund.id)
    if locked is None or locked.status is not RefundStatus.PENDING or locked.stripe_refund_id:
        state = "gone" if locked is None else locked.status.value
        return RefundSent(f"refund {refund.id} is {state}; nothing to send")
    try:
        _create_at_stripe(locked, gateway)
    except GatewayError as error:
        if error.retryable:
            log.warning("Refund %s not confirmed by Stripe yet: %s", locked.id, error.message)
            return RefundSent(
                f"refund {locked.id} not answered by Stripe ({error.message})",
                unanswered=error.message,
            )
        outcome = fail_refund(session, locked, f"Stripe refused: {error.message}")
        return RefundSent(outcome, refused=error.message)
    session.flush()
    return RefundSent(f"refund {locked.id} sent to Stripe as {locked.stripe_refund_id}")


def refund_card_payment(
    session: Session,
    actor: User,
    payment: Payment,
    order: Order,
    amount: int,
    reason: str,
    *,
    gateway: StripeGateway | None = None,
) -> Refund:
    """Record a card refund and send it to Stripe in the caller's one transaction.

    Superseded by `request_card_refund`, a commit, then `send_card_refund` (as
    `card_views.refund_by_card` does): here Stripe is asked before the refund is committed,
    so a failed commit would leave a refund at Stripe that the app never recorded (finance
    then lists it as an unmatched card refund). Stripe refusing raises DomainError.
    """
    if gateway is None:
        try:
            gateway = gateway_from_config(current_app.config)
        except GatewayError:
            raise DomainError(_l("Card payments are not configured here.")) from None
    refund = request_card_refund(session, actor, payment, order, amount, reason)
    try:
        _create_at_stripe(refund, gateway)
    except GatewayError as error:
        if not error.retryable:
            raise DomainError(
                _l("Stripe refused the refund: %(reason)s", reason=error.message),
                field="amount",
            ) from None
        log.warning("Refund %s not confirmed by Stripe yet: %s", refund.id, error.message)
    session.flush()
    return refund


# Reading state back from Stripe ------------------------------------------------------


@dataclass
class SyncReport:
    changes: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: money Stripe reports that does not match the payment or refund: for finance to look at
    held: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sync_payment(session: Session, payment: Payment, gateway: StripeGateway) -> str | None:
    """Bring one card payment in line with its Checkout Session at Stripe. Returns what
    changed, or None."""
    locked = lock_payment(session, payment.id)
    if locked is None or locked.rail is not PaymentRail.CARD or not locked.stripe_session_id:
        return None
    before = (locked.status, locked.fee)
    checkout = gateway.retrieve_checkout_session(locked.stripe_session_id)
    outcome = None
    if checkout.get("status") == "complete" and checkout.get("payment_status") == "paid":
        intent_id = checkout.get("payment_intent")
        when = None
        if intent_id:
            intent = gateway.retrieve_payment_intent(str(intent_id))
            charge = intent.get("latest_charge")
            when = charge.get("created") if isinstance(charge, dict) else intent.get("created")
        outcome = apply_success(
            session,
            locked,
            gateway,
            intent_id=intent_id,
            amount_minor=checkout.get("amount_total"),
            currency=checkout.get("currency"),
            when=when,
        )
    elif checkout.get("status") == "expired":
        outcome = apply_failure(session, locked, "expired", gateway)
    if outcome is not None and outcome.startswith("held"):
        return outcome
    return outcome if (locked.status, locked.fee) != before else None


def sync_refund(session: Session, refund: Refund, gateway: StripeGateway) -> str | None:
    locked = lock_refund(session, refund.id)
    if locked is None or locked.status is not RefundStatus.PENDING:
        return None
    outcome = None
    if locked.stripe_refund_id is None:
        if utcnow() - locked.created_at > REFUND_RETRY_WINDOW:
            raise GatewayError(f"refund {locked.id} never reached Stripe; check it by hand")
        # never sent, or its answer was lost: the same key makes Stripe answer for the same
        # refund, or make it now
        sent = send_card_refund(session, locked, gateway)
        if sent.unanswered is not None:
            raise GatewayError(f"refund {locked.id} not answered by Stripe ({sent.unanswered})")
        if sent.refused is not None:
            return sent.outcome
        outcome = sent.outcome
    data = gateway.retrieve_refund(str(locked.stripe_refund_id))
    applied = apply_refund_state(session, locked, data)
    if applied.startswith("held"):
        return applied
    return applied if locked.status is not RefundStatus.PENDING else outcome


def sync_payments(session: Session, gateway: StripeGateway) -> SyncReport:
    """Repair missed webhooks: read every open card payment and refund back from Stripe and
    apply what it says. Each item is its own savepoint: one failure does not stop the rest."""
    report = SyncReport()
    recent = utcnow() - LATE_SUCCESS_WINDOW
    ended = (Payment.status == PaymentStatus.FAILED) | (Payment.status == PaymentStatus.EXPIRED)
    payments = session.scalars(
        select(Payment)
        .where(
            Payment.rail == PaymentRail.CARD,
            Payment.stripe_session_id.is_not(None),
            (Payment.status == PaymentStatus.PENDING)
            | (ended & (Payment.created_at >= recent))
            | (
                (Payment.status == PaymentStatus.SUCCEEDED)
                & Payment.fee.is_(None)
                & (Payment.created_at >= utcnow() - FEE_REPAIR_WINDOW)
            ),
        )
        .order_by(Payment.id)
    ).all()
    refunds = session.scalars(
        select(Refund)
        .join(Payment, Payment.id == Refund.payment_id)
        .where(Payment.rail == PaymentRail.CARD, Refund.status == RefundStatus.PENDING)
        .order_by(Refund.id)
    ).all()
    items: list[tuple[str, Callable[[], str | None]]] = [
        (f"payment {p.id}", lambda p=p: sync_payment(session, p, gateway)) for p in payments
    ] + [(f"refund {r.id}", lambda r=r: sync_refund(session, r, gateway)) for r in refunds]
    for name, sync in items:
        savepoint = session.begin_nested()
        try:
            change = sync()
        except (GatewayError, DomainError) as error:
            savepoint.rollback()
            report.errors.append(f"{name}: {error.message}")
            continue
        savepoint.commit()
        if change and change.startswith("held"):
            report.held.append(change)
        elif change:
            report.changes.append(change)
        else:
            report.unchanged += 1
    return report

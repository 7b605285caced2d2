"""The government-card rail through Stripe: opening Checkout, applying Stripe's signed events
exactly once and in any order, reading state back from Stripe to repair missed events, and
card refunds. Services: they flush, never commit.

A card payment succeeds only on Stripe's word (a verified event, or the state read back from
Stripe's API), never on the payer's browser coming back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.accounts.models import User
from marketplace.audit.services import record_event as audit
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.payments import services
from marketplace.payments.models import (
    Payment,
    PaymentRail,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
)
from marketplace.payments.stripe_gateway import (
    CURRENCY,
    GatewayError,
    NotWholeRupiah,
    StripeGateway,
    from_minor_units,
    gateway_from_config,
    to_minor_units,
)
from marketplace.permissions import has_permission

log = logging.getLogger(__name__)

#: (success URL, cancel URL) for a payment; known only once the payment has its id
CheckoutUrls = Callable[[Payment], tuple[str, str]]
#: a failed card payment may still succeed while its Checkout page lives (24 hours)
LATE_SUCCESS_WINDOW = timedelta(hours=48)
#: Stripe keeps idempotency keys for 24 hours; a refund whose creation went unanswered is
#: sent again with its key only within that time
REFUND_RETRY_WINDOW = timedelta(hours=23)
#: an event about a payment or refund not committed yet is retried this long, then dropped
WAIT_FOR_RECORD = timedelta(days=1)
#: a succeeded card payment whose fee Stripe did not give yet is asked again this long
FEE_REPAIR_WINDOW = timedelta(days=30)


def jakarta_date(timestamp: int | float | None) -> date:
    if timestamp is None:
        return services.jakarta_today()
    return datetime.fromtimestamp(timestamp, UTC).astimezone(JAKARTA).date()


def _lock_payment(session: Session, payment_id: int) -> Payment | None:
    return session.scalars(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _lock_refund(session: Session, refund_id: int) -> Refund | None:
    return session.scalars(
        select(Refund)
        .where(Refund.id == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


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


# Effects of Stripe's word, shared by events and sync ---------------------------------


def _record_charge_details(payment: Payment, gateway: StripeGateway | None) -> str:
    """The charge id, balance transaction, fee and net of a card payment, when Stripe has
    them; a note of what could not be recorded otherwise."""
    if gateway is None or not payment.stripe_payment_intent_id:
        return "fee not fetched"
    try:
        transaction = gateway.retrieve_balance_transaction(
            payment_intent=payment.stripe_payment_intent_id
        )
    except GatewayError as error:
        return f"fee not fetched ({error.message})"
    if transaction is None:
        return "no balance transaction yet"
    if transaction.get("charge"):
        payment.reference = str(transaction["charge"])[:100]
    payment.stripe_balance_transaction_id = transaction.get("id")
    if transaction.get("currency") != CURRENCY:
        return f"fee in {transaction.get('currency')}, not recorded"
    try:
        payment.fee = from_minor_units(int(transaction["fee"]))
        payment.net = from_minor_units(int(transaction["net"]))
    except (KeyError, TypeError, NotWholeRupiah) as error:
        return f"fee not recorded ({error})"
    return f"fee {payment.fee}"


def _succeed(
    session: Session,
    payment: Payment,
    gateway: StripeGateway | None,
    *,
    intent_id: str | None,
    amount_minor: int | None,
    currency: str | None,
    when: int | float | None,
) -> str:
    if intent_id and not payment.stripe_payment_intent_id:
        payment.stripe_payment_intent_id = intent_id
    if payment.status is PaymentStatus.SUCCEEDED:
        if payment.fee is None and gateway is not None:
            details = _record_charge_details(payment, gateway)
            if payment.fee is not None:
                return f"payment {payment.id} already succeeded; {details} recorded"
        return f"payment {payment.id} already succeeded"
    expected = to_minor_units(payment.amount)
    if currency != CURRENCY or amount_minor != expected:
        # money moved, but not what was asked: finance must look, nothing is marked paid
        return (
            f"held: payment {payment.id} expects {expected} {CURRENCY},"
            f" Stripe reports {amount_minor} {currency}"
        )
    details = _record_charge_details(payment, gateway)
    paid = services.settle_payment(session, payment, actor=None, paid_on=jakarta_date(when))
    references = ", ".join(order.reference for order in paid) or "none"
    return f"payment {payment.id} succeeded; orders paid: {references}; {details}"


def _fail(session: Session, payment: Payment, reason: str, gateway: StripeGateway | None) -> str:
    if not services.fail_payment(session, payment, reason):
        return f"payment {payment.id} is {payment.status.value}; {reason!r} changes nothing"
    if reason != "expired" and gateway is not None and payment.stripe_session_id:
        # the orders are payable again: close the page so that it cannot be paid as well
        try:
            gateway.expire_checkout_session(payment.stripe_session_id)
        except GatewayError as error:
            log.info("Checkout Session %s not expired: %s", payment.stripe_session_id, error)
    if reason == "expired":
        return f"payment {payment.id} expired"
    return f"payment {payment.id} failed: {reason}"


def _settle_refund(session: Session, refund: Refund, when: int | float | None) -> str:
    if refund.status is RefundStatus.SUCCEEDED:
        return f"refund {refund.id} already succeeded"
    if refund.status is RefundStatus.FAILED:
        return f"refund {refund.id} failed before; Stripe now reports it succeeded: check it"
    refund.refunded_on = jakarta_date(when)
    services.settle_refund(session, refund, actor=None)
    return f"refund {refund.id} succeeded"


def _fail_refund(session: Session, refund: Refund, reason: str) -> str:
    if refund.status is not RefundStatus.PENDING:
        return f"refund {refund.id} is {refund.status.value}; {reason!r} changes nothing"
    refund.status = RefundStatus.FAILED
    session.flush()
    order = refund.order
    audit(
        session,
        None,
        "refund.fail",
        "order",
        order.id,
        after={"refund_id": refund.id, "payment_id": refund.payment_id, "reason": reason},
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
    )
    return f"refund {refund.id} failed: {reason}"


def _apply_refund_state(session: Session, refund: Refund, data: Mapping[str, Any]) -> str:
    status = data.get("status")
    if status == "succeeded":
        return _settle_refund(session, refund, data.get("created"))
    if status in ("failed", "canceled"):
        return _fail_refund(session, refund, str(data.get("failure_reason") or status))
    return f"refund {refund.id} is {status} at Stripe"


# Storing and applying events ---------------------------------------------------------


def record_event(session: Session, event: Mapping[str, Any]) -> bool:
    """Store a verified Stripe event once. False when it was stored before (a duplicate)."""
    row = StripeEvent(
        id=str(event["id"]),
        type=str(event["type"]),
        stripe_created=datetime.fromtimestamp(int(event.get("created") or 0), UTC),
        payload=dict(event),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def lock_event(session: Session, event_id: str) -> StripeEvent | None:
    return session.scalars(
        select(StripeEvent)
        .where(StripeEvent.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


class _NotRecordedYet(Exception):
    """The event is about our payment or refund, whose transaction has not committed yet."""


def _find_payment(
    session: Session,
    obj: Mapping[str, Any],
    *,
    session_id: str | None = None,
    intent_id: str | None = None,
) -> Payment | None:
    """The card payment a Stripe object belongs to, locked: by the Stripe ids we stored, or
    by the metadata we sent (its id and its attempt's own key)."""
    for column, value in (
        (Payment.stripe_session_id, session_id),
        (Payment.stripe_payment_intent_id, intent_id),
    ):
        if value:
            found = session.scalar(select(Payment.id).where(column == value))
            if found is not None:
                return _lock_payment(session, found)
    metadata = obj.get("metadata") or {}
    payment_id, key = metadata.get("payment_id"), metadata.get("payment_key")
    if not payment_id or not key or not str(payment_id).isdigit():
        return None
    payment = _lock_payment(session, int(payment_id))
    if payment is None:
        raise _NotRecordedYet(f"payment {payment_id}")
    if payment.idempotency_key != key:
        return None  # a rolled-back attempt's object, whose id was given again
    if session_id and payment.stripe_session_id not in (None, session_id):
        return None  # another attempt's page
    return payment


def _find_refund(session: Session, obj: Mapping[str, Any]) -> Refund | None:
    if obj.get("id"):
        found = session.scalar(select(Refund.id).where(Refund.stripe_refund_id == obj["id"]))
        if found is not None:
            return _lock_refund(session, found)
    metadata = obj.get("metadata") or {}
    refund_id, key = metadata.get("refund_id"), metadata.get("refund_key")
    if not refund_id or not key or not str(refund_id).isdigit():
        return None
    refund = _lock_refund(session, int(refund_id))
    if refund is None:
        raise _NotRecordedYet(f"refund {refund_id}")
    if refund.idempotency_key != key:
        return None
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = obj.get("id")
    return refund


def _on_checkout_session(
    session: Session, event_type: str, obj: Mapping[str, Any], when: int, gateway: Any
) -> str:
    payment = _find_payment(session, obj, session_id=obj.get("id"))
    if payment is None:
        return f"ignored: unknown Checkout Session {obj.get('id')}"
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            return f"payment {payment.id}: session complete, payment {obj.get('payment_status')}"
        return _succeed(
            session,
            payment,
            gateway,
            intent_id=obj.get("payment_intent"),
            amount_minor=obj.get("amount_total"),
            currency=obj.get("currency"),
            when=when,
        )
    if event_type == "checkout.session.expired":
        return _fail(session, payment, "expired", gateway)
    if event_type == "checkout.session.async_payment_failed":
        return _fail(session, payment, "payment failed", gateway)
    return f"ignored: {event_type}"


def _on_payment_intent(
    session: Session, event_type: str, obj: Mapping[str, Any], when: int, gateway: Any
) -> str:
    payment = _find_payment(session, obj, intent_id=obj.get("id"))
    if payment is None:
        return f"ignored: unknown PaymentIntent {obj.get('id')}"
    if event_type == "payment_intent.succeeded":
        return _succeed(
            session,
            payment,
            gateway,
            intent_id=obj.get("id"),
            amount_minor=obj.get("amount_received"),
            currency=obj.get("currency"),
            when=when,
        )
    if event_type == "payment_intent.payment_failed":
        if payment.stripe_payment_intent_id is None:
            payment.stripe_payment_intent_id = obj.get("id")
        error = obj.get("last_payment_error") or {}
        return _fail(session, payment, str(error.get("message") or "payment failed"), gateway)
    return f"ignored: {event_type}"


def _on_refund(session: Session, obj: Mapping[str, Any], gateway: Any) -> str:
    refund = _find_refund(session, obj)
    if refund is None:
        return f"ignored: unknown refund {obj.get('id')}"
    return _apply_refund_state(session, refund, obj)


def _on_charge_refunded(session: Session, obj: Mapping[str, Any], gateway: Any) -> str:
    """A charge was (partly) refunded: settle our pending refunds of it that Stripe confirms."""
    payment = _find_payment(session, obj, intent_id=obj.get("payment_intent"))
    if payment is None:
        return f"ignored: unknown charge {obj.get('id')}"
    listed = {r.get("id"): r for r in ((obj.get("refunds") or {}).get("data") or [])}
    pending = session.scalars(
        select(Refund).where(
            Refund.payment_id == payment.id,
            Refund.status == RefundStatus.PENDING,
            Refund.stripe_refund_id.is_not(None),
        )
    ).all()
    outcomes = []
    for refund in pending:
        data = listed.get(refund.stripe_refund_id)
        if data is None and gateway is not None:
            try:
                data = gateway.retrieve_refund(refund.stripe_refund_id)
            except GatewayError as error:
                outcomes.append(f"refund {refund.id} not read ({error.message})")
                continue
        if data is not None:
            outcomes.append(_apply_refund_state(session, refund, data))
    return "; ".join(outcomes) or f"charge {obj.get('id')}: no pending refund"


def apply_event(session: Session, row: StripeEvent, gateway: StripeGateway | None) -> str:
    """Apply a stored event's effects, once: an applied event is never applied again, and
    the effects do not depend on the order events arrive in (a success always wins over a
    failure, and a second success changes nothing). Returns the outcome it recorded."""
    if row.processed_at is not None:
        return row.outcome
    payload = row.payload or {}
    obj = (payload.get("data") or {}).get("object") or {}
    when = payload.get("created")
    event_type = row.type
    try:
        if event_type.startswith("checkout.session."):
            outcome = _on_checkout_session(session, event_type, obj, when, gateway)
        elif event_type.startswith("payment_intent."):
            outcome = _on_payment_intent(session, event_type, obj, when, gateway)
        elif event_type in ("refund.created", "refund.updated", "refund.failed"):
            outcome = _on_refund(session, obj, gateway)
        elif event_type in ("charge.refunded", "charge.refund.updated"):
            outcome = _on_charge_refunded(session, obj, gateway)
        else:
            outcome = f"ignored: {event_type}"
    except _NotRecordedYet as waiting:
        if utcnow() - row.stripe_created < WAIT_FOR_RECORD:
            row.outcome = f"waiting: {waiting} is not recorded yet"
            session.flush()
            return row.outcome
        outcome = f"ignored: {waiting} never recorded"
    except DomainError as error:
        outcome = f"refused: {error.message}"
    row.outcome = outcome
    row.processed_at = utcnow()
    session.flush()
    return outcome


def process_pending_events(session: Session, gateway: StripeGateway | None) -> list[str]:
    """Apply stored events not applied yet (a crash mid-way, or waiting for a record)."""
    ids = session.scalars(
        select(StripeEvent.id)
        .where(StripeEvent.processed_at.is_(None))
        .order_by(StripeEvent.stripe_created, StripeEvent.id)
    ).all()
    outcomes = []
    for event_id in ids:
        savepoint = session.begin_nested()
        try:
            row = lock_event(session, event_id)
            if row is None or row.processed_at is not None:
                savepoint.commit()
                continue
            outcomes.append(f"{event_id} ({row.type}): {apply_event(session, row, gateway)}")
        except Exception as error:  # reported; the other events still run
            savepoint.rollback()
            log.exception("Stripe event %s could not be applied", event_id)
            outcomes.append(f"{event_id}: error: {error}")
            continue
        savepoint.commit()
    return outcomes


# Reading state back from Stripe ------------------------------------------------------


@dataclass
class SyncReport:
    changes: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: money Stripe reports that does not match the payment: for finance to look at
    held: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sync_payment(session: Session, payment: Payment, gateway: StripeGateway) -> str | None:
    """Bring one card payment in line with its Checkout Session at Stripe. Returns what
    changed, or None."""
    locked = _lock_payment(session, payment.id)
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
        outcome = _succeed(
            session,
            locked,
            gateway,
            intent_id=intent_id,
            amount_minor=checkout.get("amount_total"),
            currency=checkout.get("currency"),
            when=when,
        )
    elif checkout.get("status") == "expired":
        outcome = _fail(session, locked, "expired", gateway)
    if outcome is not None and outcome.startswith("held"):
        return outcome
    return outcome if (locked.status, locked.fee) != before else None


def sync_refund(session: Session, refund: Refund, gateway: StripeGateway) -> str | None:
    locked = _lock_refund(session, refund.id)
    if locked is None or locked.status is not RefundStatus.PENDING:
        return None
    if locked.stripe_refund_id is None:
        if utcnow() - locked.created_at > REFUND_RETRY_WINDOW:
            raise GatewayError(f"refund {locked.id} never reached Stripe; check it by hand")
        # the creation went unanswered: the same key makes Stripe answer for the same refund
        _send_refund(locked, gateway)
        outcome = f"refund {locked.id} sent to Stripe as {locked.stripe_refund_id}"
    else:
        outcome = None
    data = gateway.retrieve_refund(str(locked.stripe_refund_id))
    applied = _apply_refund_state(session, locked, data)
    return applied if locked.status is not RefundStatus.PENDING else outcome


def sync_payments(session: Session, gateway: StripeGateway) -> SyncReport:
    """Repair missed webhooks: read every open card payment and refund back from Stripe and
    apply what it says. Each item is its own savepoint: one failure does not stop the rest."""
    report = SyncReport()
    recent = utcnow() - LATE_SUCCESS_WINDOW
    payments = session.scalars(
        select(Payment)
        .where(
            Payment.rail == PaymentRail.CARD,
            Payment.stripe_session_id.is_not(None),
            (Payment.status == PaymentStatus.PENDING)
            | ((Payment.status == PaymentStatus.FAILED) & (Payment.created_at >= recent))
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


def _send_refund(refund: Refund, gateway: StripeGateway) -> None:
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
    """Refund part or all of a card payment's share of one order through Stripe.

    The refund is recorded pending and sent to Stripe with its own idempotency key; it
    succeeds (and the budget line gets the money back) only when Stripe confirms it, by a
    webhook or `flask payments sync`. If Stripe cannot be reached the refund stays pending
    without a Stripe id and sync sends it again with the same key.
    """
    if payment.rail is not PaymentRail.CARD:
        raise DomainError(_l("Only a card payment is refunded through Stripe."))
    if not payment.stripe_payment_intent_id:
        raise Conflict(_l("Stripe has not confirmed this card charge yet; refund it later."))
    if gateway is None:
        try:
            gateway = gateway_from_config(current_app.config)
        except GatewayError:
            raise DomainError(_l("Card payments are not configured here.")) from None
    refund = services.request_refund(session, actor, payment, order, amount, reason)
    try:
        _send_refund(refund, gateway)
    except GatewayError as error:
        if not error.retryable:
            raise DomainError(
                _l("Stripe refused the refund: %(reason)s", reason=error.message),
                field="amount",
            ) from None
        log.warning("Refund %s not confirmed by Stripe yet: %s", refund.id, error.message)
    session.flush()
    return refund

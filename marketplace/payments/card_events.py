"""What Stripe tells the card rail: its signed events, stored once and applied exactly once in
any order, and the effects of Stripe's word (a payment paid, declined, expired or held; a
refund settled or failed) that `card.sync_payments` shares when it reads state back.
Services: they flush, never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.audit.services import record_event as audit
from marketplace.errors import DomainError
from marketplace.ordering.rules import JAKARTA
from marketplace.payments import services
from marketplace.payments.models import Payment, PaymentStatus, Refund, RefundStatus, StripeEvent
from marketplace.payments.stripe_gateway import (
    CURRENCY,
    GatewayError,
    NotWholeRupiah,
    StripeGateway,
    from_minor_units,
    to_minor_units,
)

log = logging.getLogger(__name__)

#: an event about a payment or refund not committed yet is retried this long, then given up
WAIT_FOR_RECORD = timedelta(days=1)
#: events whose object is a Stripe refund
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")


def jakarta_date(timestamp: int | float | None) -> date:
    if timestamp is None:
        return services.jakarta_today()
    return datetime.fromtimestamp(timestamp, UTC).astimezone(JAKARTA).date()


def lock_payment(session: Session, payment_id: int) -> Payment | None:
    return session.scalars(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def lock_refund(session: Session, refund_id: int) -> Refund | None:
    return session.scalars(
        select(Refund)
        .where(Refund.id == refund_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


# Effects of Stripe's word on a payment -----------------------------------------------


def record_charge_details(payment: Payment, gateway: StripeGateway | None) -> str:
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


def apply_success(
    session: Session,
    payment: Payment,
    gateway: StripeGateway | None,
    *,
    intent_id: str | None,
    amount_minor: int | None,
    currency: str | None,
    when: int | float | None,
) -> str:
    """Stripe took the money. It pays the orders, or is held for finance when it cannot be
    applied (another amount, or orders paid another way after the attempt had ended); an
    outcome starting with "held" says so."""
    if intent_id and not payment.stripe_payment_intent_id:
        payment.stripe_payment_intent_id = intent_id
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.HELD):
        state = "succeeded" if payment.status is PaymentStatus.SUCCEEDED else "held"
        if payment.fee is None and gateway is not None:
            details = record_charge_details(payment, gateway)
            if payment.fee is not None:
                return f"payment {payment.id} already {state}; {details} recorded"
        return f"payment {payment.id} already {state}"
    expected = to_minor_units(payment.amount)
    details = record_charge_details(payment, gateway)
    if currency != CURRENCY or amount_minor != expected:
        # money moved, but not what was asked: nothing is marked paid, the orders are free
        # to be paid again, and finance lists the held payment (usually to refund it)
        reason = (
            f"Stripe reports {amount_minor} {currency}, the payment expects {expected} {CURRENCY}"
        )
        services.hold_payment(session, payment, reason)
        return f"held: payment {payment.id}: {reason}"
    paid = services.settle_payment(session, payment, actor=None, paid_on=jakarta_date(when))
    if payment.status is PaymentStatus.HELD:
        return f"held: payment {payment.id}: {payment.failure_reason}"
    # an earlier decline on Stripe's page is history now (kept in the audit trail)
    payment.failure_reason = ""
    session.flush()
    references = ", ".join(order.reference for order in paid) or "none"
    return f"payment {payment.id} succeeded; orders paid: {references}; {details}"


def apply_failure(
    session: Session, payment: Payment, reason: str, gateway: StripeGateway | None
) -> str:
    """The attempt is over (its page expired, or a delayed payment failed): the orders are
    payable again."""
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


def record_decline(session: Session, payment: Payment, reason: str) -> str:
    """A card was declined on Stripe's Checkout page. The payer stays on the page and may try
    another card, so the payment stays pending: it ends only when the page expires."""
    if payment.status is not PaymentStatus.PENDING:
        return f"payment {payment.id} is {payment.status.value}; {reason!r} changes nothing"
    payment.failure_reason = reason
    session.flush()
    audit(
        session,
        None,
        "payment.decline",
        "payment",
        payment.id,
        after={"reason": reason, "payment_intent": payment.stripe_payment_intent_id},
        agency_id=payment.agency_id,
        vendor_id=payment.vendor_id,
    )
    return f"payment {payment.id} declined ({reason}); still open on Stripe's page"


# Effects of Stripe's word on a refund ------------------------------------------------


def _settle_refund(session: Session, refund: Refund, when: int | float | None) -> str:
    if refund.status is RefundStatus.SUCCEEDED:
        return f"refund {refund.id} already succeeded"
    if refund.status is RefundStatus.FAILED:
        return f"refund {refund.id} failed before; Stripe now reports it succeeded: check it"
    refund.refunded_on = jakarta_date(when)
    services.settle_refund(session, refund, actor=None)
    return f"refund {refund.id} succeeded"


def fail_refund(session: Session, refund: Refund, reason: str) -> str:
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


def apply_refund_state(session: Session, refund: Refund, data: Mapping[str, Any]) -> str:
    """Stripe's state of one of our refunds. A success for another amount than recorded is
    held (outcome "held: ..."), not settled: the budget gets back only what was refunded."""
    status = data.get("status")
    if status == "succeeded":
        expected = to_minor_units(refund.amount)
        if data.get("amount") != expected or data.get("currency") != CURRENCY:
            return (
                f"held: refund amount differs: refund {refund.id} expects {expected} {CURRENCY},"
                f" Stripe reports {data.get('amount')} {data.get('currency')}"
            )
        return _settle_refund(session, refund, data.get("created"))
    if status in ("failed", "canceled"):
        return fail_refund(session, refund, str(data.get("failure_reason") or status))
    return f"refund {refund.id} is {status} at Stripe"


def _unmatched_refund(obj: Mapping[str, Any]) -> str:
    # finance lists it (marketplace.finance.exception_kinds.unmatched_card_refund)
    return (
        f"unmatched refund {obj.get('id')}: {obj.get('amount')} {obj.get('currency')}"
        f" ({obj.get('status')}) matches no refund recorded here; for finance"
    )


# Storing events ----------------------------------------------------------------------


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


# Finding what an event is about ------------------------------------------------------


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
                return lock_payment(session, found)
    metadata = obj.get("metadata") or {}
    payment_id, key = metadata.get("payment_id"), metadata.get("payment_key")
    if not payment_id or not key or not str(payment_id).isdigit():
        return None
    payment = lock_payment(session, int(payment_id))
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
            return lock_refund(session, found)
    metadata = obj.get("metadata") or {}
    refund_id, key = metadata.get("refund_id"), metadata.get("refund_key")
    if not refund_id or not key or not str(refund_id).isdigit():
        return None
    refund = lock_refund(session, int(refund_id))
    if refund is None:
        raise _NotRecordedYet(f"refund {refund_id}")
    if refund.idempotency_key != key:
        return None
    if refund.stripe_refund_id is None:
        refund.stripe_refund_id = obj.get("id")
    return refund


# Applying events ---------------------------------------------------------------------


def _on_checkout_session(
    session: Session, event_type: str, obj: Mapping[str, Any], when: int, gateway: Any
) -> str:
    payment = _find_payment(session, obj, session_id=obj.get("id"))
    if payment is None:
        return f"ignored: unknown Checkout Session {obj.get('id')}"
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            return f"payment {payment.id}: session complete, payment {obj.get('payment_status')}"
        return apply_success(
            session,
            payment,
            gateway,
            intent_id=obj.get("payment_intent"),
            amount_minor=obj.get("amount_total"),
            currency=obj.get("currency"),
            when=when,
        )
    if event_type == "checkout.session.expired":
        return apply_failure(session, payment, "expired", gateway)
    if event_type == "checkout.session.async_payment_failed":
        return apply_failure(session, payment, "payment failed", gateway)
    return f"ignored: {event_type}"


def _on_payment_intent(
    session: Session, event_type: str, obj: Mapping[str, Any], when: int, gateway: Any
) -> str:
    payment = _find_payment(session, obj, intent_id=obj.get("id"))
    if payment is None:
        return f"ignored: unknown PaymentIntent {obj.get('id')}"
    if event_type == "payment_intent.succeeded":
        return apply_success(
            session,
            payment,
            gateway,
            intent_id=obj.get("id"),
            amount_minor=obj.get("amount_received"),
            currency=obj.get("currency"),
            when=when,
        )
    if event_type == "payment_intent.payment_failed":
        # Sent for every declined attempt on the Checkout page, which stays open: the
        # payment ends on checkout.session.expired or .async_payment_failed, never here.
        if payment.stripe_payment_intent_id is None:
            payment.stripe_payment_intent_id = obj.get("id")
        error = obj.get("last_payment_error") or {}
        return record_decline(session, payment, str(error.get("message") or "payment failed"))
    return f"ignored: {event_type}"


def _on_refund(session: Session, obj: Mapping[str, Any], gateway: Any) -> str:
    refund = _find_refund(session, obj)
    if refund is None:
        return _unmatched_refund(obj)
    return apply_refund_state(session, refund, obj)


def _recorded_refunds(session: Session, payment_id: int) -> int:
    """Rupiah of the payment's refunds recorded here and not failed."""
    total = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment_id, Refund.status != RefundStatus.FAILED
        )
    )
    return int(total or 0)


def _on_charge_refunded(session: Session, obj: Mapping[str, Any], gateway: Any) -> str:
    """A charge was (partly) refunded: settle our pending refunds of it that Stripe confirms,
    and note any refunded amount beyond what is recorded here."""
    payment = _find_payment(session, obj, intent_id=obj.get("payment_intent"))
    if payment is None:
        return (
            f"unmatched refund: charge {obj.get('id')} of no payment here refunded"
            f" {obj.get('amount_refunded')} {obj.get('currency')}; for finance"
        )
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
            outcomes.append(apply_refund_state(session, refund, data))
    refunded = obj.get("amount_refunded")
    recorded = to_minor_units(_recorded_refunds(session, payment.id))
    if isinstance(refunded, int) and refunded > recorded:
        outcomes.append(
            f"unmatched refund: charge {obj.get('id')} refunded {refunded} {obj.get('currency')},"
            f" {recorded} {CURRENCY} recorded here; for finance"
        )
    return "; ".join(outcomes) or f"charge {obj.get('id')}: no pending refund"


def _apply(
    session: Session, event_type: str, obj: Mapping[str, Any], when: Any, gateway: Any
) -> str:
    if event_type.startswith("checkout.session."):
        return _on_checkout_session(session, event_type, obj, when, gateway)
    if event_type.startswith("payment_intent."):
        return _on_payment_intent(session, event_type, obj, when, gateway)
    if event_type in REFUND_EVENTS:
        return _on_refund(session, obj, gateway)
    if event_type == "charge.refunded":
        return _on_charge_refunded(session, obj, gateway)
    return f"ignored: {event_type}"


def apply_event(session: Session, row: StripeEvent, gateway: StripeGateway | None) -> str:
    """Apply a stored event's effects, once: an applied event is never applied again, and
    the effects do not depend on the order events arrive in (a success always wins over a
    failure, and a second success changes nothing). Returns the outcome it recorded.

    The effects run in a savepoint. When a service refuses them (a DomainError), none of
    them stay (no refund marked succeeded without its ledger row); the event is marked
    processed with the outcome "refused: ...". It is not retried, because the same event
    would be refused again: the payment or refund is left as it was, still pending, and
    `flask payments sync`, which reads every pending one back from Stripe, applies it again
    and reports the error on every run until someone sees to it.
    """
    if row.processed_at is not None:
        return row.outcome
    payload = row.payload or {}
    obj = (payload.get("data") or {}).get("object") or {}
    event_type = row.type
    savepoint = session.begin_nested()
    try:
        outcome = _apply(session, event_type, obj, payload.get("created"), gateway)
    except _NotRecordedYet as waiting:
        savepoint.rollback()
        if utcnow() - row.stripe_created < WAIT_FOR_RECORD:
            row.outcome = f"waiting: {waiting} is not recorded yet"
            session.flush()
            return row.outcome
        if event_type in REFUND_EVENTS or event_type == "charge.refunded":
            outcome = f"unmatched refund: {waiting} never recorded; for finance"
        else:
            outcome = f"ignored: {waiting} never recorded"
    except DomainError as error:
        savepoint.rollback()
        outcome = f"refused: {error.message}"
    except BaseException:
        savepoint.rollback()
        raise
    else:
        savepoint.commit()
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

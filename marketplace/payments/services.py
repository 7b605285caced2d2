"""Paying received orders: what is owed, treasury transfers, the settlement of any rail's
payment onto its orders, refunds back to the budget, and closed periods.

Both rails (transfer and card) end in `settle_payment`: the allocations are recorded on the
orders and every order whose net payable is covered moves to paid, in one transaction. A card
payment only gets there through a signed Stripe event, never through the browser's return.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, joinedload

from catalog import documents as stored_files
from catalog.db import utcnow
from catalog.services import ListingError
from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.budgets import services as ledger
from marketplace.documents.models import DocumentKind, IssuedDocument
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.i18n import rupiah
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.services import lock_order, transition_order
from marketplace.ordering.states import OrderAction, OrderStatus
from marketplace.payments.models import (
    ClosedPeriod,
    Payment,
    PaymentAllocation,
    PaymentRail,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from marketplace.payments.totals import add_succeeded_payment, add_succeeded_refund
from marketplace.permissions import can_pay

PROOF_FILES = "payment-proofs"
#: the first key of the advisory locks that guard closing months
PERIOD_LOCK_NAMESPACE = 7201


def jakarta_today() -> date:
    return datetime.now(JAKARTA).date()


# What is owed ------------------------------------------------------------------------


def current_invoice(session: Session, order_id: int) -> IssuedDocument | None:
    return session.scalars(
        select(IssuedDocument)
        .where(IssuedDocument.order_id == order_id, IssuedDocument.kind == DocumentKind.INVOICE)
        .order_by(IssuedDocument.version.desc())
        .limit(1)
    ).first()


def net_payable(session: Session, order: Order) -> int:
    """What the vendor is owed for the order: the current invoice's net payable."""
    invoice = current_invoice(session, order.id)
    return int(invoice.content["net_payable"]) if invoice is not None else 0


def withheld_taxes(session: Session, order: Order) -> list[dict[str, object]]:
    invoice = current_invoice(session, order.id)
    return list(invoice.content["taxes"]["withheld"]) if invoice is not None else []


def amount_paid(session: Session, order_id: int) -> int:
    """Rupiah that reached the vendor for the order: succeeded payments less refunds."""
    paid = session.scalar(
        select(func.coalesce(func.sum(PaymentAllocation.amount), 0))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.order_id == order_id, Payment.status == PaymentStatus.SUCCEEDED)
    )
    refunded = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Refund.order_id == order_id,
            Refund.status == RefundStatus.SUCCEEDED,
            Payment.status == PaymentStatus.SUCCEEDED,  # a held charge's refund paid nothing back
        )
    )
    return int(paid or 0) - int(refunded or 0)


def outstanding(session: Session, order: Order) -> int:
    return max(net_payable(session, order) - amount_paid(session, order.id), 0)


def payment_due_on(order: Order, payment_due_days: int) -> date | None:
    if order.received_at is None:
        return None
    return order.received_at.astimezone(JAKARTA).date() + timedelta(days=payment_due_days)


def pending_card_payment(session: Session, order_id: int) -> Payment | None:
    return session.scalars(
        select(Payment)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.order_id == order_id, Payment.status == PaymentStatus.PENDING)
        .limit(1)
    ).first()


@dataclass(frozen=True)
class OrderMoney:
    net_payable: int
    paid: int
    withheld: list[dict[str, object]]
    #: a card payment for it is waiting for Stripe's confirmation
    pending: bool

    @property
    def outstanding(self) -> int:
        return max(self.net_payable - self.paid, 0)


def money_of_orders(session: Session, order_ids: Sequence[int]) -> dict[int, OrderMoney]:
    """What each order is owed and has been paid, in four queries whatever the count."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    invoices: dict[int, IssuedDocument] = {}
    for invoice in session.scalars(
        select(IssuedDocument).where(
            IssuedDocument.order_id.in_(ids), IssuedDocument.kind == DocumentKind.INVOICE
        )
    ):
        known = invoices.get(invoice.order_id)
        if known is None or invoice.version > known.version:
            invoices[invoice.order_id] = invoice
    paid = dict(
        session.execute(
            select(PaymentAllocation.order_id, func.sum(PaymentAllocation.amount))
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.order_id.in_(ids), Payment.status == PaymentStatus.SUCCEEDED)
            .group_by(PaymentAllocation.order_id)
        ).all()
    )
    refunded = dict(
        session.execute(
            select(Refund.order_id, func.sum(Refund.amount))
            .join(Payment, Payment.id == Refund.payment_id)
            .where(
                Refund.order_id.in_(ids),
                Refund.status == RefundStatus.SUCCEEDED,
                Payment.status == PaymentStatus.SUCCEEDED,
            )
            .group_by(Refund.order_id)
        ).all()
    )
    pending = set(
        session.scalars(
            select(PaymentAllocation.order_id)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.order_id.in_(ids), Payment.status == PaymentStatus.PENDING)
        )
    )
    result = {}
    for order_id in ids:
        invoice = invoices.get(order_id)
        result[order_id] = OrderMoney(
            net_payable=int(invoice.content["net_payable"]) if invoice else 0,
            paid=int(paid.get(order_id) or 0) - int(refunded.get(order_id) or 0),
            withheld=list(invoice.content["taxes"]["withheld"]) if invoice else [],
            pending=order_id in pending,
        )
    return result


@dataclass(frozen=True)
class PayableOrder:
    order: Order
    net_payable: int
    paid: int
    due_on: date | None
    overdue: bool
    #: a card payment for it is waiting for Stripe's confirmation
    pending: bool

    @property
    def outstanding(self) -> int:
        return max(self.net_payable - self.paid, 0)


def payable_orders(
    session: Session, user: User, payment_due_days: int, *, today: date | None = None
) -> list[PayableOrder]:
    """Received orders of the treasurer's agencies still owed, oldest due first."""
    today = today or jakarta_today()
    agency_ids = sorted(user.agency_ids)
    rows = session.scalars(
        select(Order)
        .where(Order.status == OrderStatus.RECEIVED, Order.agency_id.in_(agency_ids))
        .options(joinedload(Order.vendor), joinedload(Order.agency))
        .order_by(Order.received_at, Order.id)
    )
    orders = [order for order in rows.unique() if can_pay(user, order)]
    money = money_of_orders(session, [order.id for order in orders])
    result = []
    for order in orders:
        owed = money[order.id]
        if owed.net_payable == 0:
            continue
        due = payment_due_on(order, payment_due_days)
        result.append(
            PayableOrder(
                order=order,
                net_payable=owed.net_payable,
                paid=owed.paid,
                due_on=due,
                overdue=due is not None and due < today,
                pending=owed.pending,
            )
        )
    return result


# Closed periods ----------------------------------------------------------------------


def lock_period(session: Session, year: int, month: int) -> None:
    """Serialise closing a month with entries dated in it (PostgreSQL; SQLite's writers are
    serialised already): a transfer cannot slip into a month being closed."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :month)"),
            {"namespace": PERIOD_LOCK_NAMESPACE, "month": year * 100 + month},
        )


def is_closed(session: Session, day: date) -> bool:
    return session.get(ClosedPeriod, (day.year, day.month)) is not None


def require_open_period(session: Session, day: date, field_name: str = "paid_on") -> None:
    lock_period(session, day.year, day.month)
    if is_closed(session, day):
        raise DomainError(
            _l(
                "%(month)s is closed. Date the entry in an open month; it shows there as a"
                " correction.",
                month=f"{day.month:02d}/{day.year}",
            ),
            field=field_name,
        )


def first_open_day(session: Session, day: date) -> date:
    """`day`, or the first day of the first open month after it."""
    while is_closed(session, day):
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day


# Choosing what to pay ----------------------------------------------------------------


def _lock_payable(session: Session, actor: User, orders: Sequence[Order]) -> list[Order]:
    """Lock the orders (in id order, so that two treasurers cannot deadlock) and check that
    they are one vendor's received orders of one agency, each still owed something."""
    orders = list({order.id: order for order in orders}.values())  # each order once
    if not orders:
        raise DomainError(_l("Choose at least one order to pay."), field="orders")
    locked = [lock_order(session, order) for order in sorted(orders, key=lambda o: o.id)]
    if len({o.vendor_id for o in locked}) != 1 or len({o.agency_id for o in locked}) != 1:
        raise DomainError(
            _l("One payment goes to one vendor: choose orders of a single vendor."),
            field="orders",
        )
    for order in locked:
        if not can_pay(actor, order):
            raise PermissionDenied(_l("You cannot pay order %(ref)s.", ref=order.reference))
        if order.status is not OrderStatus.RECEIVED:
            raise Conflict(
                _l("Order %(ref)s is not waiting for payment.", ref=order.reference),
                field="orders",
            )
        if pending_card_payment(session, order.id) is not None:
            raise Conflict(
                _l(
                    "A card payment for %(ref)s is waiting for Stripe's confirmation.",
                    ref=order.reference,
                ),
                field="orders",
            )
        if outstanding(session, order) == 0:
            raise Conflict(
                _l("Order %(ref)s is already paid.", ref=order.reference), field="orders"
            )
    return locked


def _allocate(
    session: Session, payment: Payment, orders: Sequence[Order], amount: int
) -> list[PaymentAllocation]:
    """Spread `amount` over the orders, oldest first, each up to what it is owed."""
    left = amount
    allocations = []
    for order in orders:
        if left == 0:
            break
        share = min(outstanding(session, order), left)
        allocation = PaymentAllocation(order_id=order.id, amount=share)
        payment.allocations.append(allocation)
        allocations.append(allocation)
        left -= share
    return allocations


# Treasury transfer -------------------------------------------------------------------


@dataclass(frozen=True)
class TransferDetails:
    reference: str
    paid_on: date
    amount: int
    payer_account: str
    withholding_slips: Sequence[str] = field(default_factory=tuple)
    #: required when the amount is less than what the orders are owed
    partial_reason: str = ""
    proof: bytes | BinaryIO | None = None


def record_transfer(
    session: Session,
    actor: User,
    orders: Sequence[Order],
    details: TransferDetails,
    *,
    storage_dir: Path | None = None,
    today: date | None = None,
) -> Payment:
    """The treasurer records a transfer (SP2D) to one vendor for one order or a batch."""
    today = today or jakarta_today()
    locked = _lock_payable(session, actor, orders)
    reference = details.reference.strip()
    if not reference:
        raise DomainError(_l("Enter the transfer reference (SP2D number)."), field="reference")
    if details.paid_on > today:
        raise DomainError(_l("The transfer date cannot be in the future."), field="paid_on")
    received_on = max(o.received_at for o in locked if o.received_at).astimezone(JAKARTA).date()
    if details.paid_on < received_on:
        raise DomainError(
            _l("The transfer date cannot be before the receipt was confirmed."), field="paid_on"
        )
    require_open_period(session, details.paid_on)
    owed = sum(outstanding(session, order) for order in locked)
    amount = details.amount
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise DomainError(_l("Enter the amount transferred in rupiah."), field="amount")
    if amount > owed:
        raise DomainError(
            _l(
                "The amount is more than the %(owed)s the vendor is owed for these orders.",
                owed=rupiah(owed),
            ),
            field="amount",
        )
    partial_reason = details.partial_reason.strip()
    if amount < owed and not partial_reason:
        raise DomainError(
            _l("The amount is less than the net payable: say why this is a partial payment."),
            field="partial_reason",
        )
    duplicate = session.scalar(
        select(Payment.id).where(
            Payment.rail == PaymentRail.TRANSFER,
            Payment.reference == reference,
            Payment.agency_id == locked[0].agency_id,
        )
    )
    if duplicate is not None:
        raise Conflict(
            _l("A transfer with reference %(ref)s is already recorded.", ref=reference),
            field="reference",
        )
    slips = [slip.strip() for slip in details.withholding_slips if slip.strip()]
    proof_file = None
    if details.proof is not None:
        if storage_dir is None:
            raise DomainError(_l("The proof cannot be stored here."), field="proof")
        try:
            proof_file, _kind = stored_files.store_document_file(details.proof, storage_dir)
        except ListingError as error:
            raise DomainError(error.message, field="proof") from None
    try:
        payment = Payment(
            rail=PaymentRail.TRANSFER,
            status=PaymentStatus.PENDING,
            agency_id=locked[0].agency_id,
            vendor_id=locked[0].vendor_id,
            amount=amount,
            paid_on=details.paid_on,
            reference=reference,
            payer_account=details.payer_account.strip(),
            proof_file=proof_file,
            withholding_slips=slips,
            partial_reason=partial_reason,
            created_by_id=actor.id,
        )
        session.add(payment)
        _allocate(session, payment, locked, amount)
        session.flush()
        settle_payment(session, payment, actor=actor, paid_on=details.paid_on)
    except Exception:
        if proof_file is not None and storage_dir is not None:
            stored_files.delete_document_file(storage_dir, proof_file)
        raise
    return payment


# Settling any rail's payment ---------------------------------------------------------


def _payment_snapshot(payment: Payment) -> dict[str, object]:
    return {
        "rail": payment.rail.value,
        "status": payment.status.value,
        "amount": payment.amount,
        "vendor_id": payment.vendor_id,
        "reference": payment.reference,
        "orders": {str(a.order_id): a.amount for a in payment.allocations},
    }


def settle_payment(
    session: Session, payment: Payment, *, actor: User | None, paid_on: date | None = None
) -> list[Order]:
    """Mark the payment succeeded and move every order it fully covers to paid.

    Idempotent: a payment already succeeded changes nothing (a webhook delivered twice, or
    a sync after a webhook). Returns the orders that became paid.
    """
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.HELD):
        return []
    orders = [lock_order(session, allocation.order) for allocation in payment.allocations]
    if payment.status is not PaymentStatus.PENDING:
        # A success for an attempt that had failed or expired: the orders may have been paid
        # another way meanwhile. Money is never applied twice; finance sees it held.
        for allocation, order in zip(payment.allocations, orders, strict=True):
            if order.status is not OrderStatus.RECEIVED or outstanding(session, order) < (
                allocation.amount
            ):
                hold_payment(session, payment, "charged after the orders were paid another way")
                return []
    before = _payment_snapshot(payment)
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = utcnow()
    payment.paid_on = first_open_day(session, paid_on or payment.paid_on or jakarta_today())
    session.flush()
    add_succeeded_payment(session, payment)
    record_event(
        session,
        actor,
        "payment.succeed",
        "payment",
        payment.id,
        before=before,
        after=_payment_snapshot(payment),
        agency_id=payment.agency_id,
        vendor_id=payment.vendor_id,
    )
    now_paid = []
    for order in orders:
        if order.status is OrderStatus.RECEIVED and outstanding(session, order) == 0:
            order.payment_reference = payment.reference or f"payment-{payment.id}"
            transition_order(
                session,
                order,
                OrderAction.PAY,
                actor,
                extra={"payment_id": payment.id, "rail": payment.rail.value},
            )
            now_paid.append(order)
    return now_paid


def hold_payment(session: Session, payment: Payment, reason: str) -> bool:
    """Money arrived that cannot be applied (orders already paid, a different amount): the
    payment is held, its orders are free to be paid, and finance lists it as an exception."""
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.HELD):
        return False
    before = _payment_snapshot(payment)
    payment.status = PaymentStatus.HELD
    payment.failure_reason = reason
    session.flush()
    record_event(
        session,
        None,
        "payment.hold",
        "payment",
        payment.id,
        before=before,
        after={**_payment_snapshot(payment), "reason": reason},
        agency_id=payment.agency_id,
        vendor_id=payment.vendor_id,
    )
    return True


def fail_payment(session: Session, payment: Payment, reason: str) -> bool:
    """A pending payment failed or expired. A succeeded payment never goes back."""
    if payment.status is not PaymentStatus.PENDING:
        return False
    before = _payment_snapshot(payment)
    payment.status = PaymentStatus.FAILED if reason != "expired" else PaymentStatus.EXPIRED
    payment.failure_reason = reason
    session.flush()
    record_event(
        session,
        None,
        "payment.fail",
        "payment",
        payment.id,
        before=before,
        after={**_payment_snapshot(payment), "reason": reason},
        agency_id=payment.agency_id,
        vendor_id=payment.vendor_id,
    )
    return True


def start_card_payment(session: Session, actor: User, orders: Sequence[Order]) -> Payment:
    """A pending card payment for the orders' full net payable, with its own idempotency
    key. The Stripe Checkout Session is created by the card rail with that key."""
    locked = _lock_payable(session, actor, orders)
    amount = sum(outstanding(session, order) for order in locked)
    payment = Payment(
        rail=PaymentRail.CARD,
        status=PaymentStatus.PENDING,
        agency_id=locked[0].agency_id,
        vendor_id=locked[0].vendor_id,
        amount=amount,
        idempotency_key=f"eorder-pay-{secrets.token_urlsafe(24)}",
        destination_account=locked[0].vendor.stripe_account_id,
        created_by_id=actor.id,
    )
    session.add(payment)
    _allocate(session, payment, locked, amount)
    session.flush()
    record_event(
        session,
        actor,
        "payment.start",
        "payment",
        payment.id,
        after=_payment_snapshot(payment),
        agency_id=payment.agency_id,
        vendor_id=payment.vendor_id,
    )
    return payment


# Refunds -----------------------------------------------------------------------------


def settle_refund(session: Session, refund: Refund, *, actor: User | None) -> bool:
    """The money is back: the refund succeeds and the order's budget line gets it back.
    Idempotent, like `settle_payment`."""
    if refund.status is RefundStatus.SUCCEEDED:
        return False
    refund.status = RefundStatus.SUCCEEDED
    refund.succeeded_at = utcnow()
    refund.refunded_on = first_open_day(session, refund.refunded_on or jakarta_today())
    order = refund.order
    # Money of a held charge never counted as payment; only an applied payment's refund
    # gives spending back to the budget line.
    if order.budget_line is not None and refund.payment.status is PaymentStatus.SUCCEEDED:
        ledger.refund(session, order.budget_line, refund.amount, actor=actor, order_id=order.id)
    session.flush()
    add_succeeded_refund(session, refund)
    record_event(
        session,
        actor,
        "refund.succeed",
        "order",
        order.id,
        after={"refund_id": refund.id, "payment_id": refund.payment_id, "amount": refund.amount},
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
    )
    return True


def refundable(session: Session, payment: Payment, order_id: int) -> int:
    """What can still be refunded of the payment's share of one order."""
    share = sum(a.amount for a in payment.allocations if a.order_id == order_id)
    refunded = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0)).where(
            Refund.payment_id == payment.id,
            Refund.order_id == order_id,
            Refund.status != RefundStatus.FAILED,
        )
    )
    return share - int(refunded or 0)


def request_refund(
    session: Session,
    actor: User,
    payment: Payment,
    order: Order,
    amount: int,
    reason: str,
    *,
    reference: str = "",
) -> Refund:
    """Record a refund of part or all of a payment's share of one order. A transfer refund
    (the vendor's return transfer, with its reference) succeeds at once; a card refund waits
    for Stripe's confirmation."""
    if not can_pay(actor, order):
        raise PermissionDenied(_l("You cannot refund payments of this order."))
    # Two refunds at once (a double click) must not both pass: the order's row lock
    # serialises them, and the second sees the first's refund.
    order = lock_order(session, order)
    session.refresh(payment)
    held_card = payment.status is PaymentStatus.HELD and payment.rail is PaymentRail.CARD
    if payment.status is not PaymentStatus.SUCCEEDED and not held_card:
        raise Conflict(_l("Only a completed payment can be refunded."))
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise DomainError(_l("Enter the amount to refund in rupiah."), field="amount")
    if amount > refundable(session, payment, order.id):
        raise DomainError(
            _l(
                "At most %(max)s can be refunded.",
                max=rupiah(refundable(session, payment, order.id)),
            ),
            field="amount",
        )
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Say why the money is refunded."), field="reason")
    refund = Refund(
        payment_id=payment.id,
        order_id=order.id,
        amount=amount,
        reason=reason,
        reference=reference.strip(),
        idempotency_key=f"eorder-refund-{secrets.token_urlsafe(24)}",
        refunded_on=jakarta_today(),
        created_by_id=actor.id,
    )
    session.add(refund)
    session.flush()
    record_event(
        session,
        actor,
        "refund.request",
        "order",
        order.id,
        after={
            "refund_id": refund.id,
            "payment_id": payment.id,
            "amount": amount,
            "reason": reason,
        },
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
    )
    if payment.rail is PaymentRail.TRANSFER:
        if not refund.reference:
            raise DomainError(
                _l("Enter the reference of the vendor's return transfer."), field="reference"
            )
        settle_refund(session, refund, actor=actor)
    return refund


# Reading -----------------------------------------------------------------------------


def payments_of_order(session: Session, order_id: int) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment)
            .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .where(PaymentAllocation.order_id == order_id)
            .order_by(Payment.id)
        ).unique()
    )


def refunds_of_order(session: Session, order_id: int) -> list[Refund]:
    return list(
        session.scalars(select(Refund).where(Refund.order_id == order_id).order_by(Refund.id))
    )

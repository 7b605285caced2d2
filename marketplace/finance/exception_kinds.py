"""The kinds of reconciliation exception: each is one query that finds its cases, and each
case links to the evidence (the order, the payment, the ledger, the Stripe event)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Agency
from marketplace.budgets.models import BudgetEntry, EntryKind
from marketplace.finance.queries import (
    RECEIVED,
    FinanceScope,
    duplicate_payment_condition,
    jakarta_day,
    jakarta_midnight,
    paid_net,
    subject_of,
)
from marketplace.finance.reconciliation import stripe_rupiah
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import STATUS_LABELS, OrderStatus
from marketplace.payments.models import (
    ExplainedException,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
)
from marketplace.payments.stripe_gateway import MINOR_UNITS_PER_RUPIAH

#: every kind, in the order the list shows them
KINDS = {
    "unpaid_past_due": _l("Received, unpaid and past the due date"),
    "paid_without_receipt": _l("Paid without receipt"),
    "amount_mismatch": _l("Paid amount differs from the net payable"),
    "unmatched_card_charge": _l("Card charge with no matching order"),
    "held_card_payment": _l("Card payment held, not applied"),
    "unmatched_card_refund": _l("Card refund with no matching refund"),
    "duplicate_payment": _l("Duplicate payment"),
    "refund_not_in_budget": _l("Refund not reflected in the budget"),
}

#: Stripe events that mean money was taken from the government card
CHARGE_EVENTS = ("checkout.session.completed", "payment_intent.succeeded", "charge.succeeded")
#: Stripe events whose object is a refund, and the one whose object is a refunded charge
REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
CHARGE_REFUNDED = "charge.refunded"


@dataclass(frozen=True)
class Evidence:
    label: Any
    endpoint: str
    args: dict[str, Any]


@dataclass
class FinanceException:
    kind: str
    #: what it is about: "order:12", "refund:3", "stripe:pi_123"
    subject: str
    agency_id: int | None
    agency_name: str
    #: the rupiah at stake (what is owed, paid too much, refunded, charged)
    amount: int | None
    message: Any
    evidence: list[Evidence]
    #: what should have been and what is, when the case is a difference
    expected: int | None = None
    actual: int | None = None
    #: the due date (unpaid past due) or the day Stripe charged (unmatched charge)
    day: date | None = None
    explanation: ExplainedException | None = field(default=None)

    @property
    def label(self) -> Any:
        return KINDS[self.kind]


def _order_evidence(order_id: int, reference: str | None) -> Evidence:
    return Evidence(
        _l("Order %(ref)s", ref=reference or f"#{order_id}"),
        "ordering.order",
        {"order_id": order_id},
    )


def _payment_evidence(payment_id: int) -> Evidence:
    return Evidence(
        _l("Payment %(id)s", id=payment_id), "payments.payment", {"payment_id": payment_id}
    )


# The kinds ---------------------------------------------------------------------------


def _unpaid_past_due_query(
    scope: FinanceScope, *, today: date, payment_due_days: int, **_: Any
) -> tuple[Select[Any], ColumnElement[str]]:
    # due on = the Jakarta day of receipt + N days; past due when that is before today
    received_before = jakarta_midnight(today - timedelta(days=payment_due_days))
    query = (
        select(Order.id, Order.number, Order.agency_id, Agency.name, Order.received_at)
        .add_columns(Order.net_payable, paid_net())
        .join(Agency, Agency.id == Order.agency_id)
        .where(
            Order.status == OrderStatus.RECEIVED,
            Order.net_payable > 0,
            Order.net_payable > paid_net(),
            Order.received_at < received_before,
            scope.covers(Order.agency_id),
        )
        .order_by(Order.received_at, Order.id)
    )
    return query, subject_of("order", Order.id)


def _unpaid_past_due_case(row: Any, *, payment_due_days: int, **_: Any) -> FinanceException:
    order_id, number, agency_id, agency_name, received_at, net, paid_amount = row
    due_on = received_at.astimezone(JAKARTA).date() + timedelta(days=payment_due_days)
    return FinanceException(
        "unpaid_past_due",
        f"order:{order_id}",
        agency_id,
        agency_name,
        int(net) - int(paid_amount),
        _l("Not fully paid by its due date."),
        [_order_evidence(order_id, number)],
        expected=int(net),
        actual=int(paid_amount),
        day=due_on,
    )


def unpaid_past_due(
    session: Session, scope: FinanceScope, *, today: date, payment_due_days: int
) -> list[FinanceException]:
    """Received orders still owed something whose payment due date has passed."""
    return SQL_KINDS["unpaid_past_due"].find(
        session, scope, today=today, payment_due_days=payment_due_days
    )


#: every status of an order whose receipt is not (or not yet) confirmed
NOT_RECEIVED = tuple(status for status in OrderStatus if status not in RECEIVED)


def _paid_without_receipt_query(
    scope: FinanceScope, **_: Any
) -> tuple[Select[Any], ColumnElement[str]]:
    """Succeeded payments on orders whose receipt was never confirmed.

    Driven from the orders (the few not received, by the status index), each one's succeeded
    payments looked up by order: joined the other way, SQLite walks every payment."""

    def of_order(*columns: Any) -> Any:
        return (
            select(*columns)
            .select_from(PaymentAllocation)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(
                PaymentAllocation.order_id == Order.id,
                Payment.status == PaymentStatus.SUCCEEDED,
            )
        )

    query = (
        select(
            Order.id,
            Order.number,
            Order.agency_id,
            select(Agency.name).where(Agency.id == Order.agency_id).scalar_subquery(),
            Order.status,
            of_order(func.sum(PaymentAllocation.amount)).scalar_subquery(),
            of_order(func.min(Payment.id)).scalar_subquery(),
        )
        .where(
            # the statuses spelled out (not NOT IN), so that the index finds them
            or_(
                Order.status.in_(NOT_RECEIVED),
                and_(Order.status.in_(RECEIVED), Order.received_at.is_(None)),
            ),
            of_order(PaymentAllocation.id).exists(),
            scope.covers(Order.agency_id),
        )
        .order_by(Order.id)
    )
    return query, subject_of("order", Order.id)


def _paid_without_receipt_case(row: Any, **_: Any) -> FinanceException:
    order_id, number, agency_id, agency_name, status, amount, payment_id = row
    return FinanceException(
        "paid_without_receipt",
        f"order:{order_id}",
        agency_id,
        agency_name,
        int(amount),
        _l("Paid while the order is “%(status)s”.", status=STATUS_LABELS[OrderStatus(status)]),
        [_order_evidence(order_id, number), _payment_evidence(payment_id)],
    )


def _amount_mismatch_query(scope: FinanceScope, **_: Any) -> tuple[Select[Any], ColumnElement[str]]:
    """Paid or reconciled orders whose payments (less refunds) differ from the net payable."""
    net = func.coalesce(Order.net_payable, 0)
    query = (
        select(Order.id, Order.number, Order.agency_id, Agency.name, net, paid_net())
        .join(Agency, Agency.id == Order.agency_id)
        .where(
            Order.status.in_([OrderStatus.PAID, OrderStatus.RECONCILED]),
            net != paid_net(),
            scope.covers(Order.agency_id),
        )
        .order_by(Order.id)
    )
    return query, subject_of("order", Order.id)


def _amount_mismatch_case(row: Any, **_: Any) -> FinanceException:
    order_id, number, agency_id, agency_name, owed, paid_amount = row
    return FinanceException(
        "amount_mismatch",
        f"order:{order_id}",
        agency_id,
        agency_name,
        int(paid_amount) - int(owed),
        _l("The vendor was paid more than the net payable.")
        if paid_amount > owed
        else _l("The vendor was paid less than the net payable."),
        [_order_evidence(order_id, number)],
        expected=int(owed),
        actual=int(paid_amount),
    )


def _charged_object(event: StripeEvent) -> tuple[str, str | None, int | None]:
    """(key, intent or session id to match, rupiah) of a charge event's object."""
    payload = event.payload or {}
    obj = (payload.get("data") or {}).get("object") or payload
    if not isinstance(obj, dict):
        return event.id, None, None
    intent = obj.get("payment_intent")
    object_id = obj.get("id")
    amount = stripe_rupiah(obj.get("amount_total", obj.get("amount")))
    key = str(intent or object_id or event.id)
    return key, (str(object_id) if object_id else None), amount


def unmatched_card_charge(
    session: Session, scope: FinanceScope, **_: Any
) -> list[FinanceException]:
    """Stripe charge events whose session or payment intent matches no payment here.

    Charges carry no agency until matched, so only province-wide finance sees them.
    """
    if not scope.province_wide:
        return []
    events = session.scalars(
        select(StripeEvent)
        .where(StripeEvent.type.in_(CHARGE_EVENTS))
        .order_by(StripeEvent.stripe_created, StripeEvent.id)
    ).all()
    charges = [(event, *_charged_object(event)) for event in events]
    ids = sorted({i for _e, key, obj_id, _a in charges for i in (key, obj_id) if i})
    known: set[str] = set()
    if ids:
        for session_id, intent_id in session.execute(
            select(Payment.stripe_session_id, Payment.stripe_payment_intent_id).where(
                or_(Payment.stripe_session_id.in_(ids), Payment.stripe_payment_intent_id.in_(ids))
            )
        ):
            known.update(i for i in (session_id, intent_id) if i)
    found: dict[str, FinanceException] = {}
    for event, key, object_id, amount in charges:
        if key in known or (object_id is not None and object_id in known) or key in found:
            continue
        found[key] = FinanceException(
            "unmatched_card_charge",
            f"stripe:{key}",
            None,
            "",
            amount,
            _l("Stripe reported %(type)s for %(id)s.", type=event.type, id=key),
            [
                Evidence(
                    _l("Stripe event %(id)s", id=event.id),
                    "finance.stripe_event",
                    {"event_id": event.id},
                )
            ],
            day=jakarta_day(event.stripe_created),
        )
    return list(found.values())


def _held_card_payment_query(
    scope: FinanceScope, **_: Any
) -> tuple[Select[Any], ColumnElement[str]]:
    """Card payments Stripe charged that were held instead of applied to their orders (the
    orders were paid another way meanwhile, or the amount differs): money taken, owed back."""
    # The agency's name by a lookup per held payment: joined, SQLite walks every agency's
    # payments instead of the few held ones.
    agency_name = select(Agency.name).where(Agency.id == Payment.agency_id).scalar_subquery()
    query = (
        select(Payment.id, Payment.agency_id, agency_name, Payment.amount, Payment.failure_reason)
        .where(Payment.status == PaymentStatus.HELD, scope.covers(Payment.agency_id))
        .order_by(Payment.id)
    )
    return query, subject_of("payment", Payment.id)


def _held_card_payment_case(row: Any, **_: Any) -> FinanceException:
    payment_id, agency_id, agency_name, amount, reason = row
    return FinanceException(
        "held_card_payment",
        f"payment:{payment_id}",
        agency_id,
        agency_name,
        int(amount),
        _l("Charged but not applied to its orders: %(reason)s", reason=reason or "–"),
        [_payment_evidence(payment_id)],
    )


def _event_object(event: StripeEvent) -> dict[str, Any]:
    obj = ((event.payload or {}).get("data") or {}).get("object")
    return obj if isinstance(obj, dict) else {}


def _stripe_event_evidence(event: StripeEvent) -> Evidence:
    return Evidence(
        _l("Stripe event %(id)s", id=event.id), "finance.stripe_event", {"event_id": event.id}
    )


def unmatched_card_refund(
    session: Session, scope: FinanceScope, **_: Any
) -> list[FinanceException]:
    """Refunds Stripe reported that match no refund recorded here: a refund object (by its
    Stripe id, or the refund id and key we sent) in its latest state and not failed, or a
    refunded charge whose refunded total is more than the refunds recorded for its payment
    and those refund objects. One made on Stripe's dashboard shows here too."""
    events = session.scalars(
        select(StripeEvent)
        .where(StripeEvent.type.in_((*REFUND_EVENTS, CHARGE_REFUNDED)))
        .order_by(StripeEvent.stripe_created, StripeEvent.id)
    ).all()
    refunds: dict[str, tuple[StripeEvent, dict[str, Any]]] = {}
    charges: dict[str, tuple[StripeEvent, dict[str, Any]]] = {}
    for event in events:
        obj = _event_object(event)
        if obj.get("id"):  # the latest state of each wins
            (charges if event.type == CHARGE_REFUNDED else refunds)[str(obj["id"])] = (event, obj)
    if not events:
        return []
    recorded = set(
        session.scalars(
            select(Refund.stripe_refund_id).where(Refund.stripe_refund_id.in_(sorted(refunds)))
        )
    )
    sent_ids = {
        int(sent)
        for _e, obj in refunds.values()
        if str(sent := (obj.get("metadata") or {}).get("refund_id") or "").isdigit()
    }
    keys: dict[int, str | None] = {
        refund_id: key
        for refund_id, key in session.execute(
            select(Refund.id, Refund.idempotency_key).where(Refund.id.in_(sorted(sent_ids)))
        )
    }
    intents = {
        str(obj["payment_intent"])
        for _e, obj in (*refunds.values(), *charges.values())
        if obj.get("payment_intent")
    }
    payments = {
        intent: (payment_id, agency_id, name)
        for intent, payment_id, agency_id, name in session.execute(
            select(Payment.stripe_payment_intent_id, Payment.id, Payment.agency_id, Agency.name)
            .join(Agency, Agency.id == Payment.agency_id)
            .where(Payment.stripe_payment_intent_id.in_(sorted(intents)))
        )
    }

    def ours(refund_id: str, obj: dict[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        sent_id = str(metadata.get("refund_id") or "")
        return refund_id in recorded or (
            sent_id.isdigit()
            and metadata.get("refund_key") is not None
            and keys.get(int(sent_id)) == metadata.get("refund_key")
        )

    found: list[FinanceException] = []
    reported: dict[str, int] = {}  # minor units reported per charge, not to count them twice
    for refund_id, (event, obj) in refunds.items():
        if ours(refund_id, obj) or obj.get("status") in ("failed", "canceled"):
            continue
        amount = obj.get("amount") if isinstance(obj.get("amount"), int) else 0
        reported[str(obj.get("charge"))] = reported.get(str(obj.get("charge")), 0) + amount
        payment_id, agency_id, name = payments.get(str(obj.get("payment_intent")), (None,) * 3)
        evidence = [_stripe_event_evidence(event)]
        if payment_id is not None:
            evidence.append(_payment_evidence(payment_id))
        found.append(
            FinanceException(
                "unmatched_card_refund",
                f"stripe:{refund_id}",
                agency_id,
                name or "",
                stripe_rupiah(obj.get("amount")),
                _l("Stripe reported refund %(id)s, which is not recorded here.", id=refund_id),
                evidence,
                day=jakarta_day(event.stripe_created),
            )
        )
    charged = sorted({p for p, _a, _n in payments.values()})
    recorded_per_payment: dict[int, int] = {
        payment_id: int(total or 0)
        for payment_id, total in session.execute(
            select(Refund.payment_id, func.sum(Refund.amount))
            .where(Refund.status != RefundStatus.FAILED, Refund.payment_id.in_(charged))
            .group_by(Refund.payment_id)
        )
    }
    for charge_id, (event, obj) in charges.items():
        refunded = obj.get("amount_refunded")
        if not isinstance(refunded, int):
            continue
        payment_id, agency_id, name = payments.get(str(obj.get("payment_intent")), (None,) * 3)
        known = recorded_per_payment.get(payment_id or 0, 0) * MINOR_UNITS_PER_RUPIAH
        missing = refunded - known - reported.get(charge_id, 0)
        if missing <= 0:
            continue
        evidence = [_stripe_event_evidence(event)]
        if payment_id is not None:
            evidence.append(_payment_evidence(payment_id))
        found.append(
            FinanceException(
                "unmatched_card_refund",
                f"stripe:{charge_id}",
                agency_id,
                name or "",
                stripe_rupiah(missing),
                _l(
                    "Stripe reports more refunded on charge %(id)s than is recorded here.",
                    id=charge_id,
                ),
                evidence,
                day=jakarta_day(event.stripe_created),
            )
        )
    return [item for item in found if scope.includes(item.agency_id)]


def _duplicate_payment_query(
    scope: FinanceScope, **_: Any
) -> tuple[Select[Any], ColumnElement[str]]:
    """Orders paid in full more than once, or paid (before refunds) beyond the net payable.

    A payment recorded as partial (with its reason) followed by the rest is not a duplicate.
    """
    query = (
        select(
            Order.id,
            Order.number,
            Order.agency_id,
            Agency.name,
            Order.paid_total,
            Order.payment_count,
            Order.net_payable,
        )
        .join(Agency, Agency.id == Order.agency_id)
        .where(duplicate_payment_condition(), scope.covers(Order.agency_id))
        .order_by(Order.id)
    )
    return query, subject_of("order", Order.id)


def _duplicate_payment_case(row: Any, **_: Any) -> FinanceException:
    order_id, number, agency_id, agency_name, paid_amount, count, owed = row
    return FinanceException(
        "duplicate_payment",
        f"order:{order_id}",
        agency_id,
        agency_name,
        int(paid_amount) - int(owed or 0),
        _l("More was paid than the net payable, in %(count)s payment(s).", count=count),
        [_order_evidence(order_id, number)],
        expected=int(owed) if owed is not None else None,
        actual=int(paid_amount),
    )


def _refund_not_in_budget_query(
    scope: FinanceScope, **_: Any
) -> tuple[Select[Any], ColumnElement[str]]:
    """Succeeded refunds with no refund row of that amount on the order's budget ledger
    (counted, so two equal refunds need two ledger rows)."""
    refunds = (
        select(
            Refund.order_id.label("order_id"),
            Refund.amount.label("amount"),
            func.count(Refund.id).label("refunds"),
            func.max(Refund.id).label("refund_id"),
            func.max(Refund.payment_id).label("payment_id"),
        )
        .where(Refund.status == RefundStatus.SUCCEEDED)
        .group_by(Refund.order_id, Refund.amount)
        .subquery("refund_groups")
    )
    entries = (
        select(
            BudgetEntry.order_id.label("order_id"),
            BudgetEntry.amount.label("amount"),
            func.count(BudgetEntry.id).label("entries"),
        )
        .where(BudgetEntry.kind == EntryKind.REFUND, BudgetEntry.order_id.is_not(None))
        .group_by(BudgetEntry.order_id, BudgetEntry.amount)
        .subquery("refund_entries")
    )
    missing = refunds.c.refunds - func.coalesce(entries.c.entries, 0)
    query = (
        select(
            Order.id,
            Order.number,
            Order.agency_id,
            Agency.name,
            Order.budget_line_id,
            refunds.c.amount,
            missing,
            refunds.c.refund_id,
            refunds.c.payment_id,
        )
        .join(refunds, refunds.c.order_id == Order.id)
        .join(Agency, Agency.id == Order.agency_id)
        .outerjoin(
            entries,
            and_(entries.c.order_id == refunds.c.order_id, entries.c.amount == refunds.c.amount),
        )
        .where(missing > 0, scope.covers(Order.agency_id))
        .order_by(refunds.c.refund_id)
    )
    return query, subject_of("refund", refunds.c.refund_id)


def _refund_not_in_budget_case(row: Any, **_: Any) -> FinanceException:
    order_id, number, agency_id, name, line_id, amount, count, refund_id, payment_id = row
    evidence = [_order_evidence(order_id, number), _payment_evidence(payment_id)]
    if line_id is not None:
        evidence.append(Evidence(_l("Budget ledger"), "budgets.line", {"line_id": line_id}))
    return FinanceException(
        "refund_not_in_budget",
        f"refund:{refund_id}",
        agency_id,
        name,
        int(amount) * int(count),
        _l("The refund did not return to the budget line.")
        if line_id is not None
        else _l("The order has no budget line to return the refund to."),
        evidence,
    )


@dataclass(frozen=True)
class SqlKind:
    """A kind found by one query, so that it can be counted, paged and looked up in SQL.

    `query` gives the select (in list order) and the SQL expression of each row's subject;
    `case` turns a row into the exception."""

    kind: str
    query: Callable[..., tuple[Select[Any], ColumnElement[str]]]
    case: Callable[..., FinanceException]

    def find(
        self, session: Session, scope: FinanceScope, *, subject: str | None = None, **rules: Any
    ) -> list[FinanceException]:
        query, subject_column = self.query(scope, **rules)
        if subject is not None:
            query = query.where(subject_column == subject)
        return [self.case(row, **rules) for row in session.execute(query)]


SQL_KINDS: dict[str, SqlKind] = {
    kind.kind: kind
    for kind in (
        SqlKind("unpaid_past_due", _unpaid_past_due_query, _unpaid_past_due_case),
        SqlKind("paid_without_receipt", _paid_without_receipt_query, _paid_without_receipt_case),
        SqlKind("amount_mismatch", _amount_mismatch_query, _amount_mismatch_case),
        SqlKind("held_card_payment", _held_card_payment_query, _held_card_payment_case),
        SqlKind("duplicate_payment", _duplicate_payment_query, _duplicate_payment_case),
        SqlKind("refund_not_in_budget", _refund_not_in_budget_query, _refund_not_in_budget_case),
    )
}


def _finder(kind: str) -> Callable[..., list[FinanceException]]:
    def find(session: Session, scope: FinanceScope, **rules: Any) -> list[FinanceException]:
        return SQL_KINDS[kind].find(session, scope, **rules)

    find.__doc__ = SQL_KINDS[kind].query.__doc__
    return find


paid_without_receipt = _finder("paid_without_receipt")
amount_mismatch = _finder("amount_mismatch")
held_card_payment = _finder("held_card_payment")
duplicate_payment = _finder("duplicate_payment")
refund_not_in_budget = _finder("refund_not_in_budget")

FINDERS: dict[str, Callable[..., list[FinanceException]]] = {
    "unpaid_past_due": unpaid_past_due,
    "paid_without_receipt": paid_without_receipt,
    "amount_mismatch": amount_mismatch,
    "unmatched_card_charge": unmatched_card_charge,
    "held_card_payment": held_card_payment,
    "unmatched_card_refund": unmatched_card_refund,
    "duplicate_payment": duplicate_payment,
    "refund_not_in_budget": refund_not_in_budget,
}

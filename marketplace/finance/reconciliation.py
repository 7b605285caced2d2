"""Reconciliation figures: orders received vs invoiced vs paid per agency, payments vs
Stripe's balance transactions, budget ledgers vs the orders charged to them, and the
paid orders waiting for finance to reconcile them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload

from marketplace.accounts.models import Agency, User
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.documents.services import current_invoices
from marketplace.errors import Conflict
from marketplace.finance.queries import (
    PAGE_SIZE,
    RECEIVED,
    FinanceScope,
    Page,
    Period,
    current_basts,
    duplicate_payment_condition,
    in_period,
    is_explained,
    page_number,
    paid_net,
    subject_of,
)
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.payments.models import (
    ExplainedException,
    Payment,
    PaymentAllocation,
    PaymentRail,
    PaymentStatus,
    StripeEvent,
)
from marketplace.payments.stripe_gateway import MINOR_UNITS_PER_RUPIAH
from marketplace.payments.totals import totals_from_rows

# Orders received, invoiced, paid -----------------------------------------------------


@dataclass
class OrderFigures:
    """One agency's received orders in the period (or the total over agencies)."""

    agency_id: int | None
    agency_name: str
    received_count: int = 0
    #: rupiah received (the gross the budget spent)
    received_amount: int = 0
    invoiced_count: int = 0
    invoiced_gross: int = 0
    net_payable: int = 0
    #: orders whose payment is complete (paid or reconciled)
    paid_count: int = 0
    #: rupiah that reached vendors: succeeded payments less refunds
    paid_amount: int = 0
    refunded: int = 0
    #: rupiah still owed on these orders
    outstanding: int = 0
    reconciled_count: int = 0

    @property
    def not_invoiced_count(self) -> int:
        return self.received_count - self.invoiced_count

    def add(self, other: OrderFigures) -> None:
        for item in fields(self):
            if item.name not in ("agency_id", "agency_name"):
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


def order_figures(
    session: Session, scope: FinanceScope, period: Period | None
) -> tuple[list[OrderFigures], OrderFigures]:
    """Per agency, in one query: orders received in the period, their invoices and payments."""
    per_agency, total, _counts = _order_figures(session, scope, period, count_exceptions=False)
    return per_agency, total


#: the exception kinds the overview counts in the pass of its figures (when no month is
#: chosen, as exceptions are not of a month)
COUNTED_WITH_FIGURES = ("amount_mismatch", "duplicate_payment")


def overview_figures(
    session: Session, scope: FinanceScope, period: Period | None
) -> tuple[list[OrderFigures], OrderFigures, dict[str, int]]:
    """The figures of `order_figures` and, when no month is chosen, the open (unexplained)
    amount mismatches and duplicate payments of the scope, counted in the same pass over
    the received orders (plus the few orders paid without receipt, for duplicates); the
    counts are empty when a month is chosen."""
    return _order_figures(session, scope, period, count_exceptions=period is None)


def _open_count(kind: str, condition: Any) -> Any:
    """How many rows meet the condition and are not explained (looked up only for those)."""
    unexplained = case((is_explained(kind, subject_of("order", Order.id)), 0), else_=1)
    return func.coalesce(func.sum(case((condition, unexplained), else_=0)), 0)


def _order_figures(
    session: Session, scope: FinanceScope, period: Period | None, *, count_exceptions: bool
) -> tuple[list[OrderFigures], OrderFigures, dict[str, int]]:
    # Every figure is on the order row, and the (agency, status, ...) index covers them: one
    # pass over the index, grouped by agency in its order, then the agencies' names.
    net = func.coalesce(Order.net_payable, 0)
    paid = paid_net()
    done = Order.status.in_([OrderStatus.PAID, OrderStatus.RECONCILED])
    counted = []
    if count_exceptions:
        # the conditions of the amount_mismatch and duplicate_payment kinds
        counted = [
            _open_count("amount_mismatch", done & (net != paid)).label("amount_mismatch"),
            _open_count("duplicate_payment", duplicate_payment_condition()).label(
                "duplicate_payment"
            ),
        ]
    figures = (
        select(
            Order.agency_id.label("agency_id"),
            func.count(Order.id).label("received_count"),
            func.coalesce(func.sum(Order.received_total), 0).label("received_amount"),
            func.count(Order.net_payable).label("invoiced_count"),
            func.coalesce(func.sum(Order.invoice_gross), 0).label("invoiced_gross"),
            func.coalesce(func.sum(net), 0).label("net_payable"),
            func.coalesce(func.sum(case((done, 1), else_=0)), 0).label("paid_count"),
            func.coalesce(func.sum(paid), 0).label("paid_amount"),
            func.coalesce(func.sum(Order.refunded_total), 0).label("refunded"),
            func.coalesce(func.sum(case((net > paid, net - paid), else_=0)), 0).label(
                "outstanding"
            ),
            func.coalesce(
                func.sum(case((Order.status == OrderStatus.RECONCILED, 1), else_=0)), 0
            ).label("reconciled_count"),
            *counted,
        )
        .where(
            Order.status.in_(RECEIVED),
            scope.covers(Order.agency_id),
            in_period(period, Order.received_at),
        )
        .group_by(Order.agency_id)
        .subquery("figures")
    )
    rows = session.execute(
        select(Agency.name, figures)
        .join(figures, figures.c.agency_id == Agency.id)
        .order_by(Agency.name, Agency.id)
    ).all()
    width = len(fields(OrderFigures))
    # (name, agency_id, figures...) -> OrderFigures(agency_id, name, figures...)
    per_agency = [OrderFigures(row[1], row[0], *(int(v) for v in row[2:width])) for row in rows]
    total = OrderFigures(None, "")
    for figures_of_agency in per_agency:
        total.add(figures_of_agency)
    counts: dict[str, int] = {}
    if count_exceptions:
        counts = {
            kind: sum(int(row[width + i]) for row in rows)
            for i, kind in enumerate(COUNTED_WITH_FIGURES)
        }
        counts["duplicate_payment"] += _duplicates_not_received(session, scope)
    return per_agency, total, counts


def _duplicates_not_received(session: Session, scope: FinanceScope) -> int:
    """Open duplicate payments on orders outside the received statuses (paid without
    receipt): the few orders the figures' pass does not read."""
    not_received = [status for status in OrderStatus if status not in RECEIVED]
    return int(
        session.scalar(
            select(_open_count("duplicate_payment", duplicate_payment_condition())).where(
                Order.status.in_(not_received),
                Order.payment_count > 0,
                scope.covers(Order.agency_id),
            )
        )
        or 0
    )


# Payments vs Stripe ------------------------------------------------------------------


@dataclass
class PaymentCheck:
    payment: Payment
    problems: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_payment(payment: Payment) -> PaymentCheck:
    check = PaymentCheck(payment)
    if sum(a.amount for a in payment.allocations) != payment.amount:
        check.problems.append(_l("The allocations to orders do not add up to the amount."))
    if payment.rail is PaymentRail.CARD and payment.status is PaymentStatus.SUCCEEDED:
        if not payment.stripe_balance_transaction_id or payment.fee is None or payment.net is None:
            check.problems.append(_l("Stripe's balance transaction is not recorded yet."))
        elif payment.fee + payment.net != payment.amount:
            check.problems.append(_l("Fee plus net is not the amount charged."))
    return check


@dataclass
class PaymentsView:
    """The totals over every payment of the scope and period; one page of each rail."""

    card: list[PaymentCheck]
    transfers: list[PaymentCheck]
    card_gross: int
    card_fee: int
    card_net: int
    transfer_total: int
    payouts: list[dict[str, object]]
    card_page: Page[PaymentCheck] | None = None
    transfer_page: Page[PaymentCheck] | None = None


def _payments_of_page(
    session: Session, where: list[Any], rail: PaymentRail, page: int | None, size: int
) -> Page[PaymentCheck]:
    total = session.scalar(select(func.count(Payment.id)).where(*where, Payment.rail == rail)) or 0
    number = page_number(page, total, size)
    rows = session.scalars(
        select(Payment)
        .where(*where, Payment.rail == rail)
        .options(
            joinedload(Payment.agency),
            joinedload(Payment.vendor),
            selectinload(Payment.allocations)
            .joinedload(PaymentAllocation.order)
            .options(lazyload(Order.lines)),
        )
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .offset((number - 1) * size)
        .limit(size)
    ).all()
    return Page([_check_payment(p) for p in rows], number, total, size)


def payments_vs_stripe(
    session: Session,
    scope: FinanceScope,
    period: Period | None,
    *,
    card_page: int | None = 1,
    transfer_page: int | None = 1,
    size: int = PAGE_SIZE,
) -> PaymentsView:
    """The payments of the scope (by value date) with their checks, a page of each rail;
    card payments with Stripe's gross, fee and net, summed in SQL over every page; and,
    province-wide, the payouts Stripe reported."""
    where = [scope.covers(Payment.agency_id), in_period(period, Payment.paid_on, is_date=True)]
    succeeded = Payment.status == PaymentStatus.SUCCEEDED

    def total_of(column: Any, rail: PaymentRail) -> Any:
        return func.coalesce(
            func.sum(case((succeeded & (Payment.rail == rail), column), else_=0)), 0
        )

    gross, fee, net, transfer_total = session.execute(
        select(
            total_of(Payment.amount, PaymentRail.CARD),
            total_of(func.coalesce(Payment.fee, 0), PaymentRail.CARD),
            total_of(func.coalesce(Payment.net, 0), PaymentRail.CARD),
            total_of(Payment.amount, PaymentRail.TRANSFER),
        ).where(*where)
    ).one()
    cards = _payments_of_page(session, where, PaymentRail.CARD, card_page, size)
    transfers = _payments_of_page(session, where, PaymentRail.TRANSFER, transfer_page, size)
    return PaymentsView(
        card=cards.items,
        transfers=transfers.items,
        card_gross=int(gross),
        card_fee=int(fee),
        card_net=int(net),
        transfer_total=int(transfer_total),
        payouts=payouts(session) if scope.province_wide else [],
        card_page=cards,
        transfer_page=transfers,
    )


def stripe_rupiah(minor_units: object) -> int | None:
    """Stripe counts IDR in hundredths; the app in whole rupiah (a fraction is dropped: this
    is for showing what Stripe reported, not for booking it)."""
    if isinstance(minor_units, bool) or not isinstance(minor_units, int):
        return None
    return minor_units // MINOR_UNITS_PER_RUPIAH


def payouts(session: Session) -> list[dict[str, object]]:
    """Stripe payouts to the bank, from the payout events received (latest state each)."""
    latest: dict[str, dict[str, object]] = {}
    events = session.scalars(
        select(StripeEvent)
        .where(StripeEvent.type.like("payout.%"))
        .order_by(StripeEvent.stripe_created, StripeEvent.id)
    )
    for event in events:
        payout = (event.payload.get("data") or {}).get("object") or {}
        if not isinstance(payout, dict) or not payout.get("id"):
            continue
        arrival = payout.get("arrival_date")
        latest[str(payout["id"])] = {
            "id": str(payout["id"]),
            "amount": stripe_rupiah(payout.get("amount")),
            "status": str(payout.get("status") or event.type.removeprefix("payout.")),
            "arrival_date": date.fromtimestamp(arrival) if isinstance(arrival, int) else None,
            "event_id": event.id,
        }
    return sorted(latest.values(), key=lambda p: str(p["id"]), reverse=True)


# Budget ledgers vs orders ------------------------------------------------------------


@dataclass
class LedgerCheck:
    line: BudgetLine
    #: spending rows less refund rows on the ledger
    ledger_spent: int
    #: received totals of the line's received orders
    orders_received: int
    #: succeeded refunds on those orders
    refunded: int
    orders_count: int

    @property
    def expected(self) -> int:
        return self.orders_received - self.refunded

    @property
    def difference(self) -> int:
        """Ledger minus orders: positive when the ledger shows more spending."""
        return self.ledger_spent - self.expected

    @property
    def counter_difference(self) -> int:
        """The line's running `spent` against its own ledger rows."""
        return self.line.spent - self.ledger_spent

    @property
    def ok(self) -> bool:
        return self.difference == 0 and self.counter_difference == 0


def _ledger_figures(scope: FinanceScope, fiscal_year: int | None) -> Any:
    """Per budget line: ledger spending, received orders, their refunds and how many."""
    entries = (
        select(
            BudgetEntry.budget_line_id.label("line_id"),
            func.sum(
                case(
                    (BudgetEntry.kind == EntryKind.SPEND, BudgetEntry.amount),
                    (BudgetEntry.kind == EntryKind.REFUND, -BudgetEntry.amount),
                    else_=0,
                )
            ).label("spent"),
        )
        .group_by(BudgetEntry.budget_line_id)
        .subquery("ledger_spending")
    )
    orders = (
        select(
            Order.budget_line_id.label("line_id"),
            func.count(Order.id).label("orders"),
            func.sum(func.coalesce(Order.received_total, 0)).label("received"),
            func.sum(Order.refunded_total).label("refunded"),
        )
        .where(Order.status.in_(RECEIVED))
        .group_by(Order.budget_line_id)
        .subquery("orders_per_line")
    )
    query = (
        select(
            BudgetLine.id.label("line_id"),
            BudgetLine.spent.label("counter"),
            func.coalesce(entries.c.spent, 0).label("spent"),
            func.coalesce(orders.c.received, 0).label("received"),
            func.coalesce(orders.c.refunded, 0).label("refunded"),
            func.coalesce(orders.c.orders, 0).label("orders"),
        )
        .outerjoin(entries, entries.c.line_id == BudgetLine.id)
        .outerjoin(orders, orders.c.line_id == BudgetLine.id)
        .where(scope.covers(BudgetLine.agency_id))
    )
    if fiscal_year is not None:
        query = query.where(BudgetLine.fiscal_year == fiscal_year)
    return query.subquery("ledger_figures")


@dataclass
class LedgerPage:
    page: Page[LedgerCheck]
    #: lines, over every page, whose ledger differs from its orders or its running total
    differences: int


def ledger_page(
    session: Session,
    scope: FinanceScope,
    fiscal_year: int | None = None,
    *,
    page: int | None = 1,
    size: int = PAGE_SIZE,
) -> LedgerPage:
    """One page of budget lines with their checks; the differences counted over all."""
    figures = _ledger_figures(scope, fiscal_year)
    expected = figures.c.received - figures.c.refunded
    differs = (figures.c.spent != expected) | (figures.c.counter != figures.c.spent)
    total, differences = session.execute(
        select(func.count(), func.coalesce(func.sum(case((differs, 1), else_=0)), 0))
    ).one()
    number = page_number(page, total, size)
    rows = session.execute(
        select(BudgetLine, figures.c.spent, figures.c.received, figures.c.refunded)
        .add_columns(figures.c.orders)
        .join(figures, figures.c.line_id == BudgetLine.id)
        .options(joinedload(BudgetLine.agency))
        .order_by(BudgetLine.fiscal_year.desc(), BudgetLine.agency_id, BudgetLine.account_code)
        .offset((number - 1) * size)
        .limit(size)
    )
    checks = [
        LedgerCheck(line, int(spent), int(received), int(refund), int(count))
        for line, spent, received, refund, count in rows
    ]
    return LedgerPage(Page(checks, number, int(total), size), int(differences))


def ledger_vs_orders(
    session: Session, scope: FinanceScope, fiscal_year: int | None = None
) -> list[LedgerCheck]:
    """Per budget line, in one query: ledger spending against the orders charged to it."""
    figures = _ledger_figures(scope, fiscal_year)
    query = (
        select(BudgetLine, figures.c.spent, figures.c.received, figures.c.refunded)
        .add_columns(figures.c.orders)
        .join(figures, figures.c.line_id == BudgetLine.id)
        .options(joinedload(BudgetLine.agency))
        .order_by(BudgetLine.fiscal_year.desc(), BudgetLine.agency_id, BudgetLine.account_code)
    )
    return [
        LedgerCheck(line, int(spent), int(received), int(refund), int(count))
        for line, spent, received, refund, count in session.execute(query)
    ]


# Paid orders to reconcile ------------------------------------------------------------


@dataclass
class ReconcileCheck:
    order: Order
    net_payable: int
    paid: int
    invoice_id: int | None
    bast_id: int | None
    #: finance explained why the amounts differ
    mismatch_explained: bool

    @property
    def amounts_match(self) -> bool:
        return self.paid == self.net_payable

    @property
    def ok(self) -> bool:
        return (
            self.invoice_id is not None
            and self.bast_id is not None
            and (self.amounts_match or self.mismatch_explained)
        )


def reconcile_checks(
    session: Session, scope: FinanceScope, order_ids: list[int] | None = None
) -> list[ReconcileCheck]:
    """Paid orders with what finance checks before reconciling: the payment equals the net
    payable (or the difference was explained) and the BAST and invoice exist.

    The figures come from the documents and payments themselves, not from the copies on the
    order rows, for the few orders of a page: reconciling is decided on them, and a copy may
    lag after an import or during an upgrade until `flask payments rebuild-totals` runs."""
    invoice, bast = current_invoices(order_ids), current_basts(order_ids)
    moves = totals_from_rows(order_ids).subquery("moves")
    query = (
        select(
            Order,
            func.coalesce(invoice.c.net_payable, 0),
            func.coalesce(moves.c.paid, 0) - func.coalesce(moves.c.refunded, 0),
            invoice.c.document_id,
            bast.c.document_id,
            ExplainedException.id,
        )
        .outerjoin(invoice, invoice.c.order_id == Order.id)
        .outerjoin(bast, bast.c.order_id == Order.id)
        .outerjoin(moves, moves.c.order_id == Order.id)
        .outerjoin(
            ExplainedException,
            (ExplainedException.kind == "amount_mismatch")
            & (ExplainedException.subject == subject_of("order", Order.id)),
        )
        .where(Order.status == OrderStatus.PAID, scope.covers(Order.agency_id))
        .options(joinedload(Order.agency), joinedload(Order.vendor), lazyload(Order.lines))
        .order_by(Order.paid_at, Order.id)
    )
    if order_ids is not None:
        query = query.where(Order.id.in_(order_ids))
    return [
        ReconcileCheck(
            order, int(net), int(paid_amount), invoice_id, bast_id, explained is not None
        )
        for order, net, paid_amount, invoice_id, bast_id, explained in session.execute(query)
    ]


def waiting_query(scope: FinanceScope) -> Any:
    """Paid orders waiting for finance to reconcile them, oldest payment first."""
    return select(Order.id).where(Order.status == OrderStatus.PAID, scope.covers(Order.agency_id))


def count_waiting(session: Session, scope: FinanceScope) -> int:
    return session.scalar(select(func.count()).select_from(waiting_query(scope).subquery())) or 0


def reconcile_page(
    session: Session, scope: FinanceScope, *, page: int | None = 1, size: int = PAGE_SIZE
) -> Page[ReconcileCheck]:
    """One page of the paid orders to reconcile: the page's orders are picked first, and the
    sums and documents read for those orders only."""
    total = count_waiting(session, scope)
    number = page_number(page, total, size)
    ids = list(
        session.scalars(
            waiting_query(scope)
            .order_by(Order.paid_at, Order.id)
            .offset((number - 1) * size)
            .limit(size)
        )
    )
    checks = reconcile_checks(session, scope, ids) if ids else []
    return Page(checks, number, total, size)


def reconcile(session: Session, actor: User, order: Order, scope: FinanceScope) -> Order:
    """Finance reconciles a paid order whose checks pass (ordering checks the permission)."""
    checks = reconcile_checks(session, scope, [order.id])
    if not checks:
        raise Conflict(_l("Order %(ref)s is not waiting for reconciliation.", ref=order.reference))
    if not checks[0].ok:
        raise Conflict(
            _l(
                "Order %(ref)s does not pass the checks: explain the difference or fix the"
                " documents first.",
                ref=order.reference,
            )
        )
    return ordering.reconcile_order(session, actor, order)

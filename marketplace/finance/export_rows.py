"""The rows of each finance export, one query per dataset (columns: exports.py)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.models import Vendor
from marketplace.accounts.models import Agency
from marketplace.budgets.models import BudgetEntry, BudgetLine
from marketplace.documents.models import IssuedDocument
from marketplace.documents.services import current_invoices
from marketplace.finance.queries import (
    RECEIVED,
    FinanceScope,
    Period,
    in_period,
    jakarta_day,
)
from marketplace.ordering.models import Order
from marketplace.payments.models import (
    Payment,
    PaymentAllocation,
    PaymentStatus,
    Refund,
    RefundStatus,
)

Row = tuple[Any, ...]


def order_rows(
    session: Session, scope: FinanceScope, period: Period | None, payment_due_days: int
) -> list[Row]:
    invoice = current_invoices()
    rows = session.execute(
        select(
            Order,
            Agency.code,
            Agency.name,
            Vendor.trading_name,
            Vendor.scale,
            BudgetLine.account_code,
            BudgetLine.fiscal_year,
            invoice.c.number,
            invoice.c.version,
            invoice.c.gross,
            invoice.c.charged_total,
            invoice.c.withheld_total,
            invoice.c.net_payable,
            Order.paid_total,
            Order.refunded_total,
            Order.last_paid_on,
        )
        .join(Agency, Agency.id == Order.agency_id)
        .join(Vendor, Vendor.id == Order.vendor_id)
        .outerjoin(BudgetLine, BudgetLine.id == Order.budget_line_id)
        .outerjoin(invoice, invoice.c.order_id == Order.id)
        .where(
            Order.status.in_(RECEIVED),
            scope.covers(Order.agency_id),
            in_period(period, Order.received_at),
        )
        .order_by(Order.received_at, Order.id)
    )
    result = []
    for (order, agency_code, agency_name, vendor_name, scale, account, year, number, version,
         gross, charged, withheld, net, paid_amount, refund, last_paid_on) in rows:  # fmt: skip
        received_on = jakarta_day(order.received_at)
        owed = int(net or 0)
        result.append(
            (
                order.id,
                order.reference,
                order.status.value,
                agency_code,
                agency_name,
                order.vendor_id,
                vendor_name,
                scale.value,
                account or "",
                year,
                order.activity_name,
                order.delivery_date,
                order.submitted_at,
                order.received_at,
                order.paid_at,
                order.reconciled_at,
                order.total,
                order.received_total,
                number or "",
                version,
                gross,
                charged,
                withheld,
                net,
                int(paid_amount),
                int(refund),
                max(owed - int(paid_amount) + int(refund), 0),
                _add_days(received_on, payment_due_days),
                last_paid_on,
            )
        )
    return result


def _add_days(day: date | None, days: int) -> date | None:
    return day + timedelta(days=days) if day is not None else None


def payment_rows(
    session: Session, scope: FinanceScope, period: Period | None, payment_due_days: int
) -> list[Row]:
    refunds = (
        select(
            Refund.payment_id.label("payment_id"),
            Refund.order_id.label("order_id"),
            func.sum(Refund.amount).label("refunded"),
        )
        .where(Refund.status == RefundStatus.SUCCEEDED)
        .group_by(Refund.payment_id, Refund.order_id)
        .subquery("refunds_per_allocation")
    )
    rows = session.execute(
        select(
            Payment,
            PaymentAllocation.order_id,
            PaymentAllocation.amount,
            Order.number,
            Agency.code,
            Agency.name,
            Vendor.trading_name,
            func.coalesce(refunds.c.refunded, 0),
        )
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .join(Order, Order.id == PaymentAllocation.order_id)
        .join(Agency, Agency.id == Payment.agency_id)
        .join(Vendor, Vendor.id == Payment.vendor_id)
        .outerjoin(
            refunds,
            (refunds.c.payment_id == Payment.id)
            & (refunds.c.order_id == PaymentAllocation.order_id),
        )
        .where(scope.covers(Payment.agency_id), in_period(period, Payment.paid_on, is_date=True))
        .order_by(Payment.paid_on, Payment.id, PaymentAllocation.id)
    )
    return [
        (
            p.id,
            p.rail.value,
            p.status.value,
            agency_code,
            agency_name,
            p.vendor_id,
            vendor_name,
            order_id,
            number or f"#{order_id}",
            allocated,
            p.amount,
            p.paid_on,
            p.reference,
            p.payer_account,
            "; ".join(p.withholding_slips or []),
            p.partial_reason,
            p.stripe_payment_intent_id or "",
            p.stripe_balance_transaction_id or "",
            p.fee,
            p.net,
            int(refund),
            p.succeeded_at,
        )
        for p, order_id, allocated, number, agency_code, agency_name, vendor_name, refund in rows
    ]


def ledger_rows(
    session: Session, scope: FinanceScope, period: Period | None, payment_due_days: int
) -> list[Row]:
    rows = session.execute(
        select(BudgetEntry, BudgetLine, Agency.code, Agency.name, Order.number)
        .join(BudgetLine, BudgetLine.id == BudgetEntry.budget_line_id)
        .join(Agency, Agency.id == BudgetLine.agency_id)
        .outerjoin(Order, Order.id == BudgetEntry.order_id)
        .where(scope.covers(BudgetLine.agency_id), in_period(period, BudgetEntry.created_at))
        .order_by(BudgetEntry.created_at, BudgetEntry.id)
    )
    signs = {"spend": 1, "refund": -1}
    return [
        (
            entry.id,
            entry.created_at,
            agency_code,
            agency_name,
            line.id,
            line.fiscal_year,
            line.account_code,
            line.name,
            entry.kind.value,
            entry.amount,
            signs.get(entry.kind.value, 0) * entry.amount,
            entry.order_id,
            (number or f"#{entry.order_id}") if entry.order_id else "",
            entry.reason,
        )
        for entry, line, agency_code, agency_name, number in rows.unique()
    ]


def tax_rows(
    session: Session, scope: FinanceScope, period: Period | None, payment_due_days: int
) -> list[Row]:
    invoice = current_invoices()
    documents = session.execute(
        select(IssuedDocument, Order.number, Agency.code, Agency.name, Vendor)
        .join(invoice, invoice.c.document_id == IssuedDocument.id)
        .join(Order, Order.id == IssuedDocument.order_id)
        .join(Agency, Agency.id == IssuedDocument.agency_id)
        .join(Vendor, Vendor.id == IssuedDocument.vendor_id)
        .where(scope.covers(IssuedDocument.agency_id), in_period(period, IssuedDocument.issued_at))
        .order_by(IssuedDocument.issued_at, IssuedDocument.id)
    ).all()
    order_ids = [document.order_id for document, *_rest in documents]
    slips: dict[int, list[str]] = defaultdict(list)
    last_paid: dict[int, date] = {}
    if order_ids:
        for order_id, payment_slips, paid_on in session.execute(
            select(PaymentAllocation.order_id, Payment.withholding_slips, Payment.paid_on)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(
                Payment.status == PaymentStatus.SUCCEEDED,
                PaymentAllocation.order_id.in_(order_ids),
            )
            .order_by(Payment.paid_on, Payment.id)
        ):
            slips[order_id].extend(payment_slips or [])
            if paid_on is not None:
                last_paid[order_id] = paid_on
    result = []
    for document, number, agency_code, agency_name, vendor in documents:
        for tax in (document.content.get("taxes") or {}).get("withheld") or []:
            result.append(
                (
                    document.order_id,
                    number or f"#{document.order_id}",
                    document.number,
                    document.version,
                    document.issued_at,
                    agency_code,
                    agency_name,
                    vendor.id,
                    vendor.legal_name,
                    vendor.npwp or "",
                    str(tax["code"]),
                    str(tax["name"]),
                    int(tax["rate_bp"]),
                    int(tax["base"]),
                    int(tax["amount"]),
                    "; ".join(dict.fromkeys(slips.get(document.order_id, []))),
                    last_paid.get(document.order_id),
                )
            )
    return result

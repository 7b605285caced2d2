"""Turning models into the API's JSON: snake_case, integer rupiah with "IDR", UTC ISO 8601
timestamps, Jakarta wall-clock delivery times. Each shape is the schema of the same name."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from catalog.models import Product, Vendor
from marketplace.accounts.models import Agency, User
from marketplace.budgets.models import BudgetEntry, BudgetLine
from marketplace.documents import services as documents
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.rules import OrderRules
from marketplace.ordering.states import OrderAction
from marketplace.payments import services as payments
from marketplace.payments.models import Payment
from marketplace.permissions import available_actions

CURRENCY = "IDR"
#: order actions the API offers (paying is done in the browser, where the proof is uploaded)
API_ACTIONS = (
    OrderAction.APPROVE,
    OrderAction.REJECT,
    OrderAction.RETURN,
    OrderAction.CANCEL,
    OrderAction.ACCEPT,
    OrderAction.DECLINE,
    OrderAction.DELIVER,
    OrderAction.RECEIVE,
    OrderAction.DISPUTE,
    OrderAction.RESOLVE_ACCEPT,
    OrderAction.RESOLVE_CANCEL,
    OrderAction.RECONCILE,
    OrderAction.RESUBMIT,
)


def moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def clock(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


def agency_ref(agency: Agency) -> dict[str, Any]:
    return {"id": agency.id, "code": agency.code, "name": agency.name}


def vendor_ref(vendor: Vendor) -> dict[str, Any]:
    return {"id": vendor.id, "trading_name": vendor.trading_name, "scale": vendor.scale.value}


def person_ref(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name}


def product(item: Product) -> dict[str, Any]:
    vendor = item.vendor
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "unit": item.unit.value,
        "price": item.price,
        "currency": CURRENCY,
        "min_order_quantity": item.min_order_quantity,
        "lead_time_hours": item.lead_time_hours,
        "portions_per_unit": item.portions_per_unit,
        "tags": [tag.value for tag in item.dietary_tags],
        "orderable": item.is_orderable,
        "category": {
            "id": item.category.id,
            "slug": item.category.slug,
            "name_id": item.category.name_id,
            "name_en": item.category.name_en,
        },
        "vendor": {
            **vendor_ref(vendor),
            "district": vendor.district,
            "city": vendor.city,
            "service_districts": list(vendor.service_districts or []),
            "rating": vendor.rating_tenths / 10 if vendor.rating_count else None,
            "on_time_percent": vendor.on_time_percent,
        },
        "created_at": moment(item.created_at),
        "updated_at": moment(item.updated_at),
    }


def order_actions(user: User, order: Order, scopes: list[str]) -> list[str]:
    if "orders:write" not in scopes:
        return []
    allowed = set(available_actions(user, order))
    return [action.value for action in API_ACTIONS if action in allowed]


def order_summary(user: User, order: Order, scopes: list[str]) -> dict[str, Any]:
    return {
        "id": order.id,
        "number": order.number,
        "request_number": order.request_number,
        "status": order.status.value,
        "status_reason": order.status_reason,
        "version": order.version,
        "agency": agency_ref(order.agency),
        "vendor": vendor_ref(order.vendor),
        "requester": person_ref(order.requester),
        "budget_line_id": order.budget_line_id,
        "activity_name": order.activity_name,
        "delivery_date": day(order.delivery_date),
        "delivery_time": clock(order.delivery_time),
        "delivery_until": clock(order.delivery_until),
        "delivery_district": order.delivery_district,
        "total": order.total,
        "received_total": order.received_total,
        "currency": CURRENCY,
        "needs_second_approval": order.needs_second_approval,
        "possible_split": order.possible_split,
        "timestamps": {
            "created_at": moment(order.created_at),
            **{
                name: moment(getattr(order, name))
                for name in (
                    "submitted_at",
                    "approved_at",
                    "accepted_at",
                    "delivered_at",
                    "received_at",
                    "paid_at",
                    "reconciled_at",
                    "rejected_at",
                    "declined_at",
                    "expired_at",
                    "cancelled_at",
                    "disputed_at",
                    "returned_at",
                )
            },
        },
        "available_actions": order_actions(user, order, scopes),
    }


def order_line(line: OrderLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "product_id": line.product_id,
        "product_name": line.product_name,
        "unit": line.unit.value,
        "unit_price": line.unit_price,
        "quantity": line.quantity,
        "line_total": line.line_total,
        "quantity_received": line.quantity_received,
        "received_line_total": line.received_line_total,
        "receipt_remark": line.receipt_remark,
    }


def order(
    session: Session, user: User, item: Order, scopes: list[str], rules: OrderRules
) -> dict[str, Any]:
    current = {document.id for document in documents.current_documents(session, item)}
    return {
        **order_summary(user, item, scopes),
        "delivery_address": item.delivery_address,
        "recipient_name": item.recipient_name,
        "recipient_phone": item.recipient_phone,
        "headcount": item.headcount,
        "portions": item.portions,
        "notes": item.notes,
        "justification": item.justification,
        "delivery_note": item.delivery_note,
        "handed_over_at": moment(item.handed_over_at),
        "on_time": item.on_time,
        "lines": [order_line(line) for line in item.lines],
        "documents": [
            {
                "id": document.id,
                "kind": document.kind.value,
                "number": document.number,
                "version": document.version,
                "issued_at": moment(document.issued_at),
                "current": document.id in current,
                "html_url": url_for("documents.view", order_id=item.id, document_id=document.id),
                "pdf_url": url_for("documents.pdf", order_id=item.id, document_id=document.id),
            }
            for document in documents.documents_of_order(session, item)
        ],
        "payment": _payment_summary(session, item, rules),
    }


def _payment_summary(session: Session, item: Order, rules: OrderRules) -> dict[str, Any] | None:
    if item.received_at is None or item.received_total is None:
        return None
    owed = payments.net_payable(session, item)
    paid = payments.amount_paid(session, item.id)
    return {
        "net_payable": owed,
        "paid": paid,
        "outstanding": max(owed - paid, 0),
        "due_on": day(payments.payment_due_on(item, rules.payment_due_days)),
        "payment_ids": [payment.id for payment in payments.payments_of_order(session, item.id)],
    }


def budget_line(line: BudgetLine) -> dict[str, Any]:
    return {
        "id": line.id,
        "agency": agency_ref(line.agency),
        "fiscal_year": line.fiscal_year,
        "account_code": line.account_code,
        "name": line.name,
        "activity": line.activity,
        "allocation": line.allocation,
        "committed": line.committed,
        "spent": line.spent,
        "available": line.available,
        "currency": CURRENCY,
        "frozen": line.frozen,
        "closed_at": moment(line.closed_at),
        "created_at": moment(line.created_at),
    }


def ledger_entry(entry: BudgetEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "amount": entry.amount,
        "currency": CURRENCY,
        "order_id": entry.order_id,
        "order_number": entry.order.number if entry.order is not None else None,
        "reason": entry.reason,
        "created_at": moment(entry.created_at),
    }


def payment(session: Session, item: Payment) -> dict[str, Any]:
    order_ids = {allocation.order_id for allocation in item.allocations}
    refunds = [
        refund
        for order_id in sorted(order_ids)
        for refund in payments.refunds_of_order(session, order_id)
        if refund.payment_id == item.id
    ]
    return {
        "id": item.id,
        "rail": item.rail.value,
        "status": item.status.value,
        "agency": agency_ref(item.agency),
        "vendor": vendor_ref(item.vendor),
        "amount": item.amount,
        "currency": CURRENCY,
        "fee": item.fee,
        "net": item.net,
        "paid_on": day(item.paid_on),
        "reference": item.reference,
        "withholding_slips": list(item.withholding_slips or []),
        "partial_reason": item.partial_reason,
        "failure_reason": item.failure_reason,
        "has_proof": bool(item.proof_file),
        "allocations": [
            {"order_id": allocation.order_id, "amount": allocation.amount}
            for allocation in item.allocations
        ],
        "refunds": [
            {
                "id": refund.id,
                "order_id": refund.order_id,
                "amount": refund.amount,
                "status": refund.status.value,
                "reference": refund.reference,
                "refunded_on": day(refund.refunded_on),
            }
            for refund in refunds
        ],
        "created_at": moment(item.created_at),
        "succeeded_at": moment(item.succeeded_at),
    }

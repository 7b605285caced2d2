"""JSON Schemas of what the API returns, as the OpenAPI document publishes them; the
serializers in `marketplace.api.serializers` produce exactly these shapes."""

from __future__ import annotations

from catalog.enums import BusinessScale, DietaryTag, Unit
from marketplace.api.schemas import (
    ACTION_BODIES,
    BOOL,
    CURRENCY,
    DATE,
    DATE_TIME,
    INT,
    MONEY,
    NEW_ORDER,
    STR,
    Schema,
    enum_of,
    nullable,
    obj,
    ref,
)
from marketplace.budgets.models import EntryKind
from marketplace.documents.models import DocumentKind
from marketplace.ordering.states import OrderStatus
from marketplace.payments.models import PaymentRail, PaymentStatus, RefundStatus

AGENCY_REF = obj({"id": INT, "code": STR, "name": STR})
VENDOR_REF = obj({"id": INT, "trading_name": STR, "scale": enum_of(BusinessScale)})
PERSON_REF = obj({"id": INT, "name": STR})

TIMESTAMPS = [
    "created_at",
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
]

_ORDER_SUMMARY_PROPERTIES: dict[str, Schema] = {
    "id": INT,
    "number": nullable(STR),
    "request_number": nullable(STR),
    "status": enum_of(OrderStatus),
    "status_reason": STR,
    "version": INT,
    "agency": ref("AgencyRef"),
    "vendor": ref("VendorRef"),
    "requester": ref("PersonRef"),
    "budget_line_id": nullable(INT),
    "activity_name": STR,
    "delivery_date": nullable(DATE),
    "delivery_time": nullable(STR),
    "delivery_until": nullable(STR),
    "delivery_district": STR,
    "total": MONEY,
    "received_total": nullable(MONEY),
    "currency": CURRENCY,
    "needs_second_approval": BOOL,
    "possible_split": BOOL,
    "timestamps": obj(
        {name: DATE_TIME if name == "created_at" else nullable(DATE_TIME) for name in TIMESTAMPS}
    ),
    "available_actions": {
        "type": "array",
        "items": enum_of(ACTION_BODIES),
        "description": "Actions this token may take now (needs the orders:write scope).",
    },
}

ORDER_LINE = obj(
    {
        "id": INT,
        "product_id": INT,
        "product_name": STR,
        "unit": enum_of(Unit),
        "unit_price": MONEY,
        "quantity": INT,
        "line_total": MONEY,
        "quantity_received": nullable(INT),
        "received_line_total": nullable(MONEY),
        "receipt_remark": STR,
    }
)

DOCUMENT = obj(
    {
        "id": INT,
        "kind": enum_of(DocumentKind),
        "number": STR,
        "version": INT,
        "issued_at": DATE_TIME,
        "current": BOOL,
        "html_url": STR,
        "pdf_url": STR,
    }
)

ORDER = obj(
    {
        **_ORDER_SUMMARY_PROPERTIES,
        "delivery_address": STR,
        "recipient_name": STR,
        "recipient_phone": STR,
        "headcount": nullable(INT),
        "portions": INT,
        "notes": STR,
        "justification": STR,
        "delivery_note": STR,
        "handed_over_at": nullable(DATE_TIME),
        "on_time": nullable(BOOL),
        "lines": {"type": "array", "items": ref("OrderLine")},
        "documents": {"type": "array", "items": ref("Document")},
        "payment": {
            "oneOf": [
                obj(
                    {
                        "net_payable": MONEY,
                        "paid": MONEY,
                        "outstanding": MONEY,
                        "due_on": nullable(DATE),
                        "payment_ids": {"type": "array", "items": INT},
                    }
                ),
                {"type": "null"},
            ],
            "description": "What the vendor is owed and was paid; null before receipt.",
        },
    }
)

PRODUCT = obj(
    {
        "id": INT,
        "name": STR,
        "description": STR,
        "unit": enum_of(Unit),
        "price": MONEY,
        "currency": CURRENCY,
        "min_order_quantity": INT,
        "lead_time_hours": INT,
        "portions_per_unit": INT,
        "tags": {"type": "array", "items": enum_of(DietaryTag)},
        "orderable": BOOL,
        "category": obj({"id": INT, "slug": STR, "name_id": STR, "name_en": STR}),
        "vendor": obj(
            {
                "id": INT,
                "trading_name": STR,
                "scale": enum_of(BusinessScale),
                "district": STR,
                "city": STR,
                "service_districts": {"type": "array", "items": STR},
                "rating": nullable({"type": "number"}),
                "on_time_percent": nullable(INT),
            }
        ),
        "created_at": DATE_TIME,
        "updated_at": DATE_TIME,
    }
)

BUDGET_LINE = obj(
    {
        "id": INT,
        "agency": ref("AgencyRef"),
        "fiscal_year": INT,
        "account_code": STR,
        "name": STR,
        "activity": STR,
        "allocation": MONEY,
        "committed": MONEY,
        "spent": MONEY,
        "available": MONEY,
        "currency": CURRENCY,
        "frozen": BOOL,
        "closed_at": nullable(DATE_TIME),
        "created_at": DATE_TIME,
    }
)

LEDGER_ENTRY = obj(
    {
        "id": INT,
        "kind": enum_of(EntryKind),
        "amount": {"type": "integer", "minimum": 1},
        "currency": CURRENCY,
        "order_id": nullable(INT),
        "order_number": nullable(STR),
        "reason": STR,
        "created_at": DATE_TIME,
    }
)

PAYMENT = obj(
    {
        "id": INT,
        "rail": enum_of(PaymentRail),
        "status": enum_of(PaymentStatus),
        "agency": ref("AgencyRef"),
        "vendor": ref("VendorRef"),
        "amount": MONEY,
        "currency": CURRENCY,
        "fee": nullable(MONEY),
        "net": nullable(MONEY),
        "paid_on": nullable(DATE),
        "reference": STR,
        "withholding_slips": {"type": "array", "items": STR},
        "partial_reason": STR,
        "failure_reason": STR,
        "has_proof": BOOL,
        "allocations": {
            "type": "array",
            "items": obj({"order_id": INT, "amount": MONEY}),
        },
        "refunds": {
            "type": "array",
            "items": obj(
                {
                    "id": INT,
                    "order_id": INT,
                    "amount": MONEY,
                    "status": enum_of(RefundStatus),
                    "reference": STR,
                    "refunded_on": nullable(DATE),
                }
            ),
        },
        "created_at": DATE_TIME,
        "succeeded_at": nullable(DATE_TIME),
    }
)

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names the fields at fault.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["type", "title", "status", "detail", "instance"],
    "additionalProperties": False,
}


def page_of(item: str) -> Schema:
    return obj(
        {
            "data": {"type": "array", "items": ref(item)},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
            "links": obj(
                {"self": STR, "next": nullable(STR), "prev": nullable(STR)},
            ),
        }
    )


ORDER_SUMMARY = obj(_ORDER_SUMMARY_PROPERTIES)

COMPONENTS: dict[str, Schema] = {
    "Problem": PROBLEM,
    "AgencyRef": AGENCY_REF,
    "VendorRef": VENDOR_REF,
    "PersonRef": PERSON_REF,
    "Product": PRODUCT,
    "ProductPage": page_of("Product"),
    "OrderSummary": ORDER_SUMMARY,
    "OrderPage": page_of("OrderSummary"),
    "OrderLine": ORDER_LINE,
    "Document": DOCUMENT,
    "Order": ORDER,
    "CreatedOrders": obj(
        {
            "data": {"type": "array", "items": ref("Order"), "minItems": 1},
            "request_number": STR,
        }
    ),
    "NewOrder": NEW_ORDER,
    "BudgetLine": BUDGET_LINE,
    "BudgetLinePage": page_of("BudgetLine"),
    "LedgerEntry": LEDGER_ENTRY,
    "LedgerPage": page_of("LedgerEntry"),
    "Payment": PAYMENT,
    "PaymentPage": page_of("Payment"),
}

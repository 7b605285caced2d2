"""JSON Schemas of what the API accepts and returns: one source for the OpenAPI document and
for the validation of request bodies and query parameters, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

from marketplace.api.tokens import SCOPES
from marketplace.ordering.states import OrderStatus

Schema = dict[str, Any]

#: database ids are 32-bit on every backend; a larger number cannot name anything
MAX_ID = 2_147_483_647
MAX_QUANTITY = 100_000
#: any text without NUL (which PostgreSQL cannot store)
NO_NUL = "^[^\\x00]*$"
#: ECMA-262's white space and line terminators, spelled out: Python's own class differs
_SPACE = (
    "\\t\\n\\u000b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
#: text that says something: at least one character that is not a space, and no NUL
SOME_TEXT = f"^[^\\x00]*[^{_SPACE}\\x00][^\\x00]*$"
#: a Jakarta wall-clock time, to the minute (seconds may follow)
CLOCK_TIME = "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"

ORDER_STATUSES = [s.value for s in OrderStatus if s is not OrderStatus.CART]


def enum_of(values: Any) -> Schema:
    return {"type": "string", "enum": [str(value) for value in values]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object of exactly these properties; all present unless named optional."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
        **extra,
    }


def text(max_length: int, *, required: bool = False, **extra: Any) -> Schema:
    return {
        "type": "string",
        "maxLength": max_length,
        "pattern": SOME_TEXT if required else NO_NUL,
        **extra,
    }


ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
INT: Schema = {"type": "integer"}
STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
MONEY: Schema = {"type": "integer", "minimum": 0, "description": "Whole rupiah."}
CURRENCY: Schema = {"type": "string", "enum": ["IDR"]}
DATE: Schema = {"type": "string", "format": "date"}
DATE_TIME: Schema = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601."}
TIME: Schema = {
    "type": "string",
    "pattern": CLOCK_TIME,
    "description": "Jakarta local time, HH:MM.",
}
VERSION: Schema = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_ID,
    "description": "The order version you last read; a newer one is refused with 409.",
}

# Requests ---------------------------------------------------------------------------

REASON_BODY = obj(
    {"reason": text(1000, required=True), "version": VERSION},
    optional=("version",),
)
VERSION_BODY = obj({"version": VERSION}, optional=("version",))
RECEIPT_LINES: Schema = {
    "type": "array",
    "minItems": 1,
    "maxItems": 200,
    "items": obj(
        {
            "line_id": ID,
            "quantity_received": {"type": "integer", "minimum": 0, "maximum": MAX_QUANTITY},
            "remark": text(500),
        },
        optional=("remark",),
    ),
}

#: the body each action takes (all optional fields may be left out, and so may the body
#: of an action whose fields are all optional)
ACTION_BODIES: dict[str, Schema] = {
    "approve": VERSION_BODY,
    "reject": REASON_BODY,
    "return": REASON_BODY,
    "cancel": obj({"reason": text(1000), "version": VERSION}, optional=("reason", "version")),
    "accept": VERSION_BODY,
    "decline": REASON_BODY,
    "deliver": obj(
        {
            "handed_over_at": {
                **DATE_TIME,
                "description": "When the food was handed over (with a time zone); default now.",
            },
            "note": text(2000),
            "version": VERSION,
        },
        optional=("handed_over_at", "note", "version"),
    ),
    "receive": obj(
        {
            "lines": RECEIPT_LINES,
            "on_time": {
                **nullable(BOOL),
                "description": "Left out or null: judged from the agreed delivery window.",
            },
            "version": VERSION,
        },
        optional=("on_time", "version"),
    ),
    "dispute": REASON_BODY,
    "resolve_accept": obj(
        {"lines": RECEIPT_LINES, "on_time": nullable(BOOL), "version": VERSION},
        optional=("on_time", "version"),
    ),
    "resolve_cancel": REASON_BODY,
    "reconcile": VERSION_BODY,
    "resubmit": obj(
        {
            "lines": {
                "type": "array",
                "minItems": 1,
                "maxItems": 200,
                "description": "Every line of the order with its new quantity; 0 removes it.",
                "items": obj(
                    {
                        "line_id": ID,
                        "quantity": {"type": "integer", "minimum": 0, "maximum": MAX_QUANTITY},
                    }
                ),
            },
            "delivery_date": DATE,
            "delivery_time": TIME,
            "version": VERSION,
        },
        optional=("version",),
    ),
}
#: actions whose body may be left out entirely
BODY_OPTIONAL = frozenset(action for action, body in ACTION_BODIES.items() if not body["required"])

NEW_ORDER = obj(
    {
        "budget_line_id": ID,
        "activity_name": text(200, required=True),
        "delivery_date": DATE,
        "delivery_time": TIME,
        "delivery_until": {**nullable(TIME), "description": "End of the delivery window."},
        "delivery_address": text(500, required=True),
        "delivery_district": text(100, required=True),
        "headcount": nullable({"type": "integer", "minimum": 0, "maximum": MAX_QUANTITY}),
        "recipient_name": text(200, description="Default: the token's owner."),
        "recipient_phone": text(30, required=True),
        "notes": text(2000),
        "justification": text(2000, description="Needed above a standard unit cost."),
        "lines": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": obj(
                {
                    "product_id": ID,
                    "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
                }
            ),
        },
    },
    optional=(
        "delivery_until",
        "headcount",
        "recipient_name",
        "notes",
        "justification",
    ),
)

# Query parameters -------------------------------------------------------------------

PAGE = {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 1}
PER_PAGE = {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}

QUERY: dict[str, dict[str, Schema]] = {
    "products": {
        "q": {**text(200), "description": "Words to search for (Whoosh index)."},
        "category": {**text(60), "description": "A category slug."},
        "page": PAGE,
        "per_page": PER_PAGE,
    },
    "orders": {
        "status": {"type": "string", "enum": ORDER_STATUSES},
        "page": PAGE,
        "per_page": PER_PAGE,
    },
    "paged": {"page": PAGE, "per_page": PER_PAGE},
    "payments": {"order_id": ID, "page": PAGE, "per_page": PER_PAGE},
}

ALL_SCOPES = list(SCOPES)

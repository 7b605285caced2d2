"""The OpenAPI 3.1 document of /api/v1, built from the same schemas that check requests.

A schemathesis test (tests/marketplace/api/test_schemathesis.py) calls every operation with
generated requests and holds each response to this document.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import force_locale

from marketplace.api.response_schemas import COMPONENTS
from marketplace.api.schemas import (
    ACTION_BODIES,
    BODY_OPTIONAL,
    ID,
    NEW_ORDER,
    QUERY,
    Schema,
    ref,
)
from marketplace.api.tokens import SCOPES
from marketplace.ordering.rules import JAKARTA

#: status -> (component name, description) of the problem responses
PROBLEMS = {
    400: ("BadRequest", "The request does not follow this document; `errors` names the fields."),
    401: ("Unauthorized", "No token, or a token that is unknown, revoked or expired."),
    403: ("Forbidden", "The token lacks the scope, or its owner's roles do not allow this."),
    404: ("NotFound", "Not there, or not visible to the token's owner."),
    409: (
        "Conflict",
        "The order's state does not allow this, it changed since `version`, or the budget line"
        " cannot cover it.",
    ),
    413: ("PayloadTooLarge", "The body is larger than 256 KiB."),
    415: ("UnsupportedMediaType", "The body is not sent as application/json."),
    422: ("Unprocessable", "Well formed, but a business rule refuses it; `detail` says which."),
}
READ = (400, 401, 403)
WRITE = (400, 401, 403, 404, 409, 413, 415, 422)

ACTION_SUMMARIES = {
    "approve": "Approve (approver; the budget holder second above the threshold)",
    "reject": "Reject with a reason (approver); the budget is released",
    "return": "Return to the requester for changes (approver)",
    "cancel": "Cancel before the vendor accepts (requester); the budget is released",
    "accept": "Accept (vendor)",
    "decline": "Decline with a reason (vendor); the budget is released",
    "deliver": "Mark delivered (vendor); photos are added in the browser",
    "receive": "Confirm receipt line by line (approver); issues the BAST and the invoice",
    "dispute": "Refuse receipt with a reason (approver)",
    "resolve_accept": "Resolve a dispute by accepting what arrived (curator)",
    "resolve_cancel": "Resolve a dispute by cancelling the order (curator)",
    "reconcile": "Reconcile a paid order (finance)",
    "resubmit": "Change quantities or the delivery moment and resubmit (requester)",
}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: int, schema: Schema, problems: tuple[int, ...], **extra: Any) -> dict:
    responses: dict[str, Any] = {
        str(ok): {"description": "Success", "content": _json(schema), **extra}
    }
    for status in problems:
        responses[str(status)] = {"$ref": f"#/components/responses/{PROBLEMS[status][0]}"}
    return responses


def _query(name: str) -> list[dict[str, Any]]:
    return [
        {
            "name": key,
            "in": "query",
            "required": False,
            "schema": schema,
            **({"description": schema["description"]} if "description" in schema else {}),
        }
        for key, schema in QUERY[name].items()
    ]


def _path_id(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID, "description": what}


def _get(
    operation_id: str,
    summary: str,
    tag: str,
    scope: str,
    schema: Schema,
    *,
    parameters: list[dict[str, Any]] | None = None,
    problems: tuple[int, ...] = READ,
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": [tag],
            "description": f"Scope: `{scope}`.",
            "parameters": parameters or [],
            "responses": _responses(200, schema, problems),
        }
    }


def _action_path(action: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": _camel(action) + "Order",
            "summary": ACTION_SUMMARIES[action],
            "tags": ["orders"],
            "description": (
                "Scope: `orders:write`. With `version`, an order that changed since is refused"
                " (409). The response is the order after the step."
            ),
            "parameters": [_path_id("order_id", "The order.")],
            "requestBody": {
                "required": action not in BODY_OPTIONAL,
                "content": _json(ACTION_BODIES[action]),
            },
            "responses": _responses(200, ref("Order"), WRITE),
        }
    }


def _new_order_example() -> dict[str, Any]:
    """A request that could go through: delivery three days from now (Jakarta)."""
    delivery_day = datetime.now(JAKARTA).date() + timedelta(days=3)
    return {
        "budget_line_id": 1,
        "activity_name": "Rapat koordinasi kesiapsiagaan banjir",
        "delivery_date": delivery_day.isoformat(),
        "delivery_time": "11:30",
        "delivery_until": "12:00",
        "delivery_address": "Jl. Kebon Sirih No. 22",
        "delivery_district": "Menteng",
        "headcount": 10,
        "recipient_name": "Joko Susilo",
        "recipient_phone": "0812-1111-2222",
        "lines": [{"product_id": 1, "quantity": 10}],
    }


def openapi_document() -> dict[str, Any]:
    with force_locale("en"):
        scopes = "; ".join(f"`{scope}`: {label}" for scope, label in SCOPES.items())
    paths: dict[str, Any] = {
        "/catalog/products": _get(
            "listProducts",
            "Search the catalogue (words via the search index), or list the newest products",
            "catalogue",
            "catalog:read",
            ref("ProductPage"),
            parameters=_query("products"),
        ),
        "/catalog/products/{product_id}": _get(
            "getProduct",
            "One product (orderable, or one's own listing)",
            "catalogue",
            "catalog:read",
            ref("Product"),
            parameters=[_path_id("product_id", "The product.")],
            problems=(*READ, 404),
        ),
        "/orders": {
            **_get(
                "listOrders",
                "Orders the token's owner may see, newest first",
                "orders",
                "orders:read",
                ref("OrderPage"),
                parameters=_query("orders"),
            ),
            "post": {
                "operationId": "createOrders",
                "summary": "Place an order: the lines are submitted for approval at once",
                "tags": ["orders"],
                "description": (
                    "Scope: `orders:write`; the owner must be a requester of the budget line's"
                    " agency. Lines of several vendors make one order per vendor, all under one"
                    " request number, all or none; the response lists every order created."
                    " Every rule of the checkout page applies; the budget is committed."
                ),
                "requestBody": {"required": True, "content": _json(ref("NewOrder"))},
                "responses": _responses(
                    201,
                    ref("CreatedOrders"),
                    (400, 401, 403, 409, 413, 415, 422),
                    headers={
                        "Location": {
                            "description": "The first order created.",
                            "schema": {"type": "string"},
                        }
                    },
                ),
            },
        },
        "/orders/{order_id}": _get(
            "getOrder",
            "One order with its lines, documents, payment state and the actions open to you",
            "orders",
            "orders:read",
            ref("Order"),
            parameters=[_path_id("order_id", "The order.")],
            problems=(*READ, 404),
        ),
        **{
            f"/orders/{{order_id}}/actions/{action}": _action_path(action)
            for action in ACTION_BODIES
        },
        "/budget-lines": _get(
            "listBudgetLines",
            "Budget lines the token's owner may see",
            "budgets",
            "budgets:read",
            ref("BudgetLinePage"),
            parameters=_query("paged"),
        ),
        "/budget-lines/{line_id}": _get(
            "getBudgetLine",
            "One budget line with its allocation, committed, spent and available amounts",
            "budgets",
            "budgets:read",
            ref("BudgetLine"),
            parameters=[_path_id("line_id", "The budget line.")],
            problems=(*READ, 404),
        ),
        "/budget-lines/{line_id}/ledger": _get(
            "getBudgetLedger",
            "The ledger of a budget line, oldest movement first",
            "budgets",
            "budgets:read",
            ref("LedgerPage"),
            parameters=[_path_id("line_id", "The budget line."), *_query("paged")],
            problems=(*READ, 404),
        ),
        "/payments": _get(
            "listPayments",
            "Payments the token's owner may see (their agency's or business's), newest first",
            "payments",
            "payments:read",
            ref("PaymentPage"),
            parameters=_query("payments"),
            problems=(*READ, 404),
        ),
        "/payments/{payment_id}": _get(
            "getPayment",
            "One payment with its allocations to orders and its refunds",
            "payments",
            "payments:read",
            ref("Payment"),
            parameters=[_path_id("payment_id", "The payment.")],
            problems=(*READ, 404),
        ),
    }
    problem_content = {"application/problem+json": {"schema": ref("Problem")}}
    responses: dict[str, Any] = {
        name: {"description": description, "content": problem_content}
        for name, description in PROBLEMS.values()
    }
    responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "e-Order API",
            "version": "1.0.0",
            "summary": "Jakarta's catering marketplace for government units, for integrations.",
            "description": (
                "Authenticate with a personal API token (`Authorization: Bearer eo_...`), made"
                " at /account/api-tokens. The token acts as its owner, with the owner's"
                " permissions, limited to its scopes. Lists are paginated (`page`, `per_page`"
                " up to 100). Money is whole rupiah (IDR); timestamps are UTC (ISO 8601);"
                " delivery dates and times are Jakarta's. Errors are"
                " `application/problem+json` (RFC 9457) with English titles; `detail` is in"
                " English, or Indonesian with `Accept-Language: id`. See docs/api.md."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "catalogue"},
            {"name": "orders"},
            {"name": "budgets"},
            {"name": "payments"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": f"Scopes: {scopes}.",
                }
            },
            "schemas": {
                **COMPONENTS,
                "NewOrder": {**NEW_ORDER, "examples": [_new_order_example()]},
            },
            "responses": responses,
        },
    }

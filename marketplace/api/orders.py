"""Orders through the API: the list and one order, placing orders (cart and checkout in one
call, so every rule of the pages applies), and each step of the lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from flask import jsonify, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.models import Product
from marketplace.accounts.models import User
from marketplace.api import serializers
from marketplace.api.blueprint import (
    ApiProblem,
    api_user,
    bp,
    json_body,
    offset,
    page_response,
    require_permission,
    scope_required,
    token_scopes,
)
from marketplace.api.schemas import ACTION_BODIES, BODY_OPTIONAL, NEW_ORDER, QUERY
from marketplace.api.validation import check_query
from marketplace.budgets.models import BudgetLine
from marketplace.db import get_session
from marketplace.delivery import services as delivery
from marketplace.errors import Conflict, DomainError
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.rules import OrderRules
from marketplace.ordering.states import OrderStatus
from marketplace.permissions import can_manage_listings, has_permission
from marketplace.web import order_rules

ORDER_ID = "<int(max=2147483647):order_id>"


def _order_response(session: Session, order: Order, status: int = 200):  # type: ignore[no-untyped-def]
    body = serializers.order(session, api_user(), order, token_scopes(), order_rules())
    return jsonify(body), status


# Reading ----------------------------------------------------------------------------


@bp.get("/orders")
@scope_required("orders:read")
def orders_list():  # type: ignore[no-untyped-def]
    session, user = get_session(), api_user()
    params = check_query(request.args, QUERY["orders"])
    query = ordering.visible_orders_query(user)
    if params["status"]:
        query = query.where(Order.status == OrderStatus(params["status"]))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Order.id.desc()).limit(params["per_page"]).offset(offset(params))
    ).unique()
    scopes = token_scopes()
    return page_response([serializers.order_summary(user, o, scopes) for o in rows], total, params)


@bp.get(f"/orders/{ORDER_ID}")
@scope_required("orders:read")
def order_detail(order_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    return _order_response(session, ordering.get_visible_order(session, api_user(), order_id))


# Placing orders ---------------------------------------------------------------------


def _clock(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


@bp.post("/orders")
@scope_required("orders:write")
def create_orders():  # type: ignore[no-untyped-def]
    """Put the lines in a cart and submit it at once: one order per vendor, one request."""
    session, user = get_session(), api_user()
    require_permission("order:submit")
    body = json_body(NEW_ORDER)
    budget_line = session.get(BudgetLine, body["budget_line_id"])
    agency_id = (
        budget_line.agency_id
        if budget_line is not None
        and has_permission(user, "order:submit", agency_id=budget_line.agency_id)
        else ordering.requester_agency_id(user)  # checkout then refuses the line
    )
    products = []
    for index, line in enumerate(body["lines"]):
        product = session.get(Product, line["product_id"])
        if product is None or not (
            product.is_orderable or can_manage_listings(user, product.vendor)
        ):
            raise DomainError("No such product.", field=f"lines.{index}.product_id")
        products.append(product)
    # The person's browser cart must not ride along with what the integration submits.
    vendors = {product.vendor_id for product in products}
    if any(
        o.vendor_id in vendors and o.agency_id == agency_id
        for o in ordering.cart_orders(session, user)
    ):
        raise Conflict(
            "Your cart in the browser holds items from a vendor of this order. Submit or empty"
            " that cart first, so that it is not submitted with this order."
        )
    order_ids = [
        ordering.add_to_cart(session, user, product, line["quantity"], agency_id=agency_id).id
        for product, line in zip(products, body["lines"], strict=True)
    ]
    details = ordering.CheckoutDetails(
        budget_line_id=body["budget_line_id"],
        activity_name=body["activity_name"],
        delivery_date=date.fromisoformat(body["delivery_date"]),
        delivery_time=time.fromisoformat(body["delivery_time"]),
        delivery_until=_clock(body.get("delivery_until")),
        delivery_address=body["delivery_address"],
        delivery_district=body["delivery_district"],
        headcount=body.get("headcount"),
        recipient_name=body.get("recipient_name") or user.name,
        recipient_phone=body["recipient_phone"],
        notes=body.get("notes", ""),
        justification=body.get("justification", ""),
    )
    submitted = ordering.checkout(session, user, sorted(set(order_ids)), details, order_rules())
    session.commit()
    rules, scopes = order_rules(), token_scopes()
    response = jsonify(
        data=[serializers.order(session, user, o, scopes, rules) for o in submitted],
        request_number=submitted[0].request_number,
    )
    response.status_code = 201
    response.headers["Location"] = url_for("api.order_detail", order_id=submitted[0].id)
    return response


# The lifecycle ----------------------------------------------------------------------

Action = Callable[[Session, User, Order, dict[str, Any], OrderRules], Order]


def _checked_version(session: Session, order: Order, body: dict[str, Any]) -> Order:
    """For services without a version argument: refuse a stale version up front (409)."""
    if body.get("version") is None:
        return order
    return ordering.lock_order(session, order, body["version"])


def _receipts(body: dict[str, Any]) -> list[delivery.LineReceipt]:
    line_ids = [line["line_id"] for line in body["lines"]]
    if len(set(line_ids)) != len(line_ids):
        raise DomainError("Give each line once.", field="lines")
    return [
        delivery.LineReceipt(line["line_id"], line["quantity_received"], line.get("remark", ""))
        for line in body["lines"]
    ]


def _deliver(session: Session, user: User, order: Order, body: dict[str, Any], _r: OrderRules):
    order = _checked_version(session, order, body)
    handed_over = body.get("handed_over_at")
    report = delivery.DeliveryReport(
        handed_over_at=datetime.fromisoformat(handed_over.upper().replace("Z", "+00:00"))
        if handed_over
        else None,
        note=body.get("note", ""),
    )
    return delivery.deliver_order(session, user, order, report)


def _resubmit(session: Session, user: User, order: Order, body: dict[str, Any], rules: OrderRules):
    order = _checked_version(session, order, body)
    quantities = {line["line_id"]: line["quantity"] for line in body["lines"]}
    if len(quantities) != len(body["lines"]):
        raise DomainError("Give each line once.", field="lines")
    change = ordering.OrderChange(
        quantities,
        date.fromisoformat(body["delivery_date"]),
        time.fromisoformat(body["delivery_time"]),
    )
    return ordering.change_order(session, user, order, change, rules)


ACTIONS: dict[str, Action] = {
    "approve": lambda s, u, o, b, r: ordering.approve_order(s, u, o, version=b.get("version")),
    "reject": lambda s, u, o, b, r: ordering.reject_order(
        s, u, o, b["reason"], version=b.get("version")
    ),
    "return": lambda s, u, o, b, r: ordering.return_order(
        s, u, o, b["reason"], version=b.get("version")
    ),
    "cancel": lambda s, u, o, b, r: ordering.cancel_order(
        s, u, _checked_version(s, o, b), b.get("reason", "")
    ),
    "accept": lambda s, u, o, b, r: ordering.accept_order(s, u, o, b.get("version"), r),
    "decline": lambda s, u, o, b, r: ordering.decline_order(
        s, u, o, b["reason"], version=b.get("version")
    ),
    "deliver": _deliver,
    "receive": lambda s, u, o, b, r: delivery.receive_order(
        s, u, o, _receipts(b), on_time=b.get("on_time"), version=b.get("version"), rules=r
    ),
    "dispute": lambda s, u, o, b, r: delivery.dispute_order(
        s, u, o, b["reason"], version=b.get("version")
    ),
    "resolve_accept": lambda s, u, o, b, r: delivery.resolve_dispute_accept(
        s, u, _checked_version(s, o, b), _receipts(b), on_time=b.get("on_time"), rules=r
    ),
    "resolve_cancel": lambda s, u, o, b, r: delivery.resolve_dispute_cancel(
        s, u, _checked_version(s, o, b), b["reason"]
    ),
    "reconcile": lambda s, u, o, b, r: ordering.reconcile_order(s, u, _checked_version(s, o, b)),
    "resubmit": _resubmit,
}
assert set(ACTIONS) == set(ACTION_BODIES)  # noqa: S101  (the document lists exactly these)


@bp.post(f"/orders/{ORDER_ID}/actions/<action>")
@scope_required("orders:write")
def order_action(order_id: int, action: str):  # type: ignore[no-untyped-def]
    """One step of the lifecycle; the body depends on the action (see the document)."""
    if action not in ACTIONS:
        raise ApiProblem(404, f"There is no action {action[:40]!r}.")
    session, user = get_session(), api_user()
    order = ordering.get_visible_order(session, user, order_id)
    body = json_body(ACTION_BODIES[action], optional=action in BODY_OPTIONAL)
    order = ACTIONS[action](session, user, order, body, order_rules())
    session.commit()
    return _order_response(session, order)

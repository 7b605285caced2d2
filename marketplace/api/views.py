"""The JSON API under /api/v1: the catalogue, budget lines with their ledgers, payments,
the OpenAPI document, and problem responses for every address nothing else takes.

Orders are in `marketplace.api.orders`; authentication, scopes and pagination in
`marketplace.api.blueprint`.
"""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as NotFoundError

from catalog.models import Product
from catalog.services import orderable_products_query
from marketplace.accounts.models import User
from marketplace.api import (
    orders,  # noqa: F401  (its routes are on the same blueprint)
    serializers,
)
from marketplace.api.blueprint import (
    PUBLIC_ENDPOINTS,
    api_user,
    bp,
    offset,
    page_response,
    require_permission,
    scope_required,
)
from marketplace.api.problems import problem_response
from marketplace.api.schemas import QUERY
from marketplace.api.validation import check_query
from marketplace.budgets import services as budgets
from marketplace.budgets.models import BudgetEntry
from marketplace.db import get_session
from marketplace.errors import NotFound
from marketplace.ordering import services as ordering
from marketplace.payments.models import Payment, PaymentAllocation
from marketplace.permissions import can_manage_listings, has_permission
from marketplace.search import catalog_index

__all__ = ["PUBLIC_ENDPOINTS", "bp"]


# The document and unknown routes ----------------------------------------------------


@bp.get("/openapi.json")
def openapi_document():  # type: ignore[no-untyped-def]
    from marketplace.api.openapi import openapi_document as build

    response = jsonify(build())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.before_app_request
def _unknown_address():  # type: ignore[no-untyped-def]
    """Addresses under /api/v1 that no route takes, or methods a route does not allow, get a
    problem too: routing fails before any blueprint is known, so the app's HTML would answer."""
    error = request.routing_exception
    if not isinstance(error, NotFoundError | MethodNotAllowed):
        return None
    if request.path != bp.url_prefix and not request.path.startswith(f"{bp.url_prefix}/"):
        return None
    if isinstance(error, MethodNotAllowed):
        return problem_response(
            405,
            f"{request.method[:20]} is not allowed here.",
            headers={"Allow": ", ".join(sorted(error.valid_methods or []))},
        )
    return problem_response(404, "There is nothing at this address. See /api/v1/openapi.json.")


# Catalogue --------------------------------------------------------------------------


@bp.get("/catalog/products")
@scope_required("catalog:read")
def products():  # type: ignore[no-untyped-def]
    session = get_session()
    params = check_query(request.args, QUERY["products"])
    text = (params["q"] or "").strip()
    category = (params["category"] or "").strip()
    page, per_page = params["page"], params["per_page"]
    if text:
        result = catalog_index().search(
            text, category=category or None, page=page, page_size=per_page, with_facets=False
        )
        # The index clamps the page to the last one; a page beyond it is empty here. A "did
        # you mean" replacement is for people: an integration gets what it asked for.
        if result.showing_suggestion or page > result.pages:
            return page_response([], 0 if result.showing_suggestion else result.total, params)
        found = {
            item.id: item
            for item in session.scalars(
                select(Product)
                .where(Product.id.in_(result.ids))
                .options(joinedload(Product.vendor), joinedload(Product.category))
            ).unique()
        }
        # The index may briefly lag the database: list only what is still orderable.
        items = [found[i] for i in result.ids if i in found and found[i].is_orderable]
        total = result.total
    else:
        query = orderable_products_query(category_slug=category).order_by(None)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        items = list(
            session.scalars(
                query.order_by(Product.created_at.desc(), Product.id.desc())
                .limit(per_page)
                .offset(offset(params))
            ).unique()
        )
    return page_response([serializers.product(item) for item in items], total, params)


@bp.get("/catalog/products/<int(max=2147483647):product_id>")
@scope_required("catalog:read")
def product(product_id: int):  # type: ignore[no-untyped-def]
    item = get_session().get(Product, product_id)
    if item is None or not (item.is_orderable or can_manage_listings(api_user(), item.vendor)):
        raise NotFound("No such product.")
    return jsonify(serializers.product(item))


# Budget lines -----------------------------------------------------------------------


@bp.get("/budget-lines")
@scope_required("budgets:read")
def budget_lines():  # type: ignore[no-untyped-def]
    require_permission("budget:view")
    params = check_query(request.args, QUERY["paged"])
    lines = budgets.visible_budget_lines(get_session(), api_user())
    start = offset(params)
    window = lines[start : start + params["per_page"]]
    return page_response([serializers.budget_line(line) for line in window], len(lines), params)


@bp.get("/budget-lines/<int(max=2147483647):line_id>")
@scope_required("budgets:read")
def budget_line(line_id: int):  # type: ignore[no-untyped-def]
    require_permission("budget:view")
    line = budgets.get_visible_line(get_session(), api_user(), line_id)
    return jsonify(serializers.budget_line(line))


@bp.get("/budget-lines/<int(max=2147483647):line_id>/ledger")
@scope_required("budgets:read")
def budget_ledger(line_id: int):  # type: ignore[no-untyped-def]
    require_permission("budget:view")
    session = get_session()
    line = budgets.get_visible_line(session, api_user(), line_id)
    params = check_query(request.args, QUERY["paged"])
    # The ledger service's order (oldest first), a page at a time.
    entries = select(BudgetEntry).where(BudgetEntry.budget_line_id == line.id)
    total = session.scalar(select(func.count()).select_from(entries.subquery())) or 0
    rows = session.scalars(
        entries.order_by(BudgetEntry.created_at, BudgetEntry.id)
        .limit(params["per_page"])
        .offset(offset(params))
    ).unique()
    return page_response([serializers.ledger_entry(entry) for entry in rows], total, params)


# Payments ---------------------------------------------------------------------------


def visible_payments_query(user: User) -> Select[tuple[Payment]]:
    """Payments the user may see, as on the pages: their agencies', their businesses', or
    every payment for province roles (each is `order:view` in the payment's tenant)."""
    query = select(Payment).options(joinedload(Payment.agency), joinedload(Payment.vendor))
    if has_permission(user, "order:view"):  # a province-wide role
        return query
    return query.where(
        Payment.agency_id.in_(sorted(user.agency_ids))
        | Payment.vendor_id.in_(sorted(user.vendor_ids))
    )


def _may_see_payment(user: User, payment: Payment) -> bool:
    return has_permission(
        user, "order:view", agency_id=payment.agency_id, vendor_id=payment.vendor_id
    )


@bp.get("/payments")
@scope_required("payments:read")
def payments_list():  # type: ignore[no-untyped-def]
    session = get_session()
    user = api_user()
    params = check_query(request.args, QUERY["payments"])
    query = visible_payments_query(user)
    if params["order_id"] is not None:
        ordering.get_visible_order(session, user, params["order_id"])
        query = query.where(
            Payment.id.in_(
                select(PaymentAllocation.payment_id).where(
                    PaymentAllocation.order_id == params["order_id"]
                )
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Payment.id.desc()).limit(params["per_page"]).offset(offset(params))
    ).unique()
    items = [serializers.payment(session, p) for p in rows if _may_see_payment(user, p)]
    return page_response(items, total, params)


@bp.get("/payments/<int(max=2147483647):payment_id>")
@scope_required("payments:read")
def payment(payment_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    item = session.get(Payment, payment_id)
    if item is None or not _may_see_payment(api_user(), item):
        raise NotFound("No such payment.")
    return jsonify(serializers.payment(session, item))

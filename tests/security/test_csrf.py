"""CSRF on every state-changing route: a request without the token is refused with the CSRF
page (400) and changes nothing. The walk follows app.url_map, so a new route is covered as soon
as it exists."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from catalog.models import Product, VendorDocument
from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry
from marketplace.ordering.models import Order
from marketplace.payments.models import Payment
from tests.support import PASSWORD

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Exempt on purpose: Stripe signs its webhook; the API takes bearer tokens, never cookies.
EXEMPT_ENDPOINTS = {"card_payments.webhook"}
EXEMPT_PREFIXES = ("/api/v1/",)

# Who sends the forged request: a person who could otherwise do what the route does.
SENDER_BY_PREFIX = [
    ("/vendor/", "vendor_owner"),
    ("/admin/", "curator"),
    ("/finance/", "finance"),
    ("/budgets/", "budget_holder"),
    ("/payments/", "treasurer"),
    ("/orders/", "approver"),
    ("/", "requester"),
]
REFUSAL = "The form expired or was sent from elsewhere"
TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def state_changing_rules(app):  # type: ignore[no-untyped-def]
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = rule.methods & STATE_CHANGING
        if not methods or rule.endpoint in EXEMPT_ENDPOINTS:
            continue
        if rule.rule.startswith(EXEMPT_PREFIXES):
            continue
        yield rule, sorted(methods)


def footprint(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        model.__name__: db.scalar(select(func.count()).select_from(model))
        for model in (AuditEvent, BudgetEntry, Order, Payment, Product, VendorDocument)
    }


def logged_in_client(csrf_app, db, user):  # type: ignore[no-untyped-def]
    """A client of the CSRF-checking app, logged in through the real form with its token."""
    client = csrf_app.test_client()
    client.test_session = db
    with client.session_transaction() as session:
        session["lang"] = "en"  # to read the refusal's source text
    page = client.get("/login").get_data(as_text=True)
    match = TOKEN.search(page)
    assert match, "no CSRF token on the login form"
    token = match.group(1) or match.group(2)
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_the_walk_finds_the_state_changing_routes(csrf_app):
    endpoints = {rule.endpoint for rule, _ in state_changing_rules(csrf_app)}
    assert {"ordering.approve", "payments.pay_order", "accounts.logout", "vendor.add_photo"} <= (
        endpoints
    )
    assert len(endpoints) > 40


def test_every_state_changing_route_refuses_a_request_without_token(csrf_app, db, world):
    order = world.order_in(db, "submitted")
    args = {
        "order_id": order.id,
        "product_id": world.product.id,
        "line_id": world.line.id,
        "agency_id": world.agency.id,
        "vendor_id": world.vendor.id,
        "category_id": world.product.category_id,
    }
    db.commit()
    clients = {}
    before = footprint(db)
    walked, failures = [], []
    for rule, methods in state_changing_rules(csrf_app):
        sender = next(who for prefix, who in SENDER_BY_PREFIX if rule.rule.startswith(prefix))
        if sender not in clients:
            clients[sender] = logged_in_client(csrf_app, db, world.users()[sender])
        client = clients[sender]
        values = {name: args.get(name, 1) for name in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        for method in methods:
            response = client.open(
                url, method=method, data={"reason": "Forged", "quantity": "5", "stars": "1"}
            )
            walked.append(f"{method} {url}")
            body = response.get_data(as_text=True)
            if response.status_code != 400 or REFUSAL not in body:
                failures.append(f"{method} {rule.rule}: {response.status_code}")
    assert failures == []
    assert len(walked) > 40
    assert footprint(db) == before
    db.refresh(order)
    assert order.status.value == "submitted"
    # The forged logout did not log anyone out.
    assert clients["requester"].get("/cart").status_code == 200


def test_anonymous_login_and_register_need_the_token_too(csrf_client, db, world):
    db.commit()
    response = csrf_client.post(
        "/login", data={"email": world.requester.email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert csrf_client.get("/orders").status_code == 302  # still not logged in

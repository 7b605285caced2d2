"""The OpenAPI document tells the truth: schemathesis calls every operation with generated
requests, valid and invalid, and holds every response to the document.

Each operation runs as the person who may use it (the vendor accepts and delivers, the
curator resolves disputes, ...) against orders in every state, so that state changes are
exercised too. Checks: no server error, status codes, content types, headers and bodies as
documented, invalid requests refused, valid ones not refused as malformed, 401 without a
token, 405 with Allow for undocumented methods.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from marketplace.api import tokens
from marketplace.api.models import ApiToken
from marketplace.api.openapi import openapi_document
from marketplace.api.schemas import ALL_SCOPES
from marketplace.budgets import services as ledger
from tests.support import ProductFactory

#: which of the world's people calls which operation
CALLER_BY_OPERATION = {
    "acceptOrder": "vendor_owner",
    "declineOrder": "vendor_owner",
    "deliverOrder": "vendor_owner",
    "resolveAcceptOrder": "curator",
    "resolveCancelOrder": "curator",
    "reconcileOrder": "finance",
    "cancelOrder": "requester",
    "resubmitOrder": "requester",
    "createOrders": "requester",
    "listPayments": "treasurer",
    "getPayment": "treasurer",
}
DEFAULT_CALLER = "approver"
STATES = [
    "submitted",
    "submitted",
    "submitted",
    "approved",
    "approved",
    "accepted",
    "accepted",
    "delivered",
    "delivered",
    "disputed",
    "received",
    "paid",
]


#: a fixed token per person: schemathesis asks for tokens while it builds cases, before any
#: fixture runs, so the fixture stores these (hashed) rather than making random ones
SECRETS = {
    name: f"eo_schemathesis-{name}" for name in (*CALLER_BY_OPERATION.values(), DEFAULT_CALLER)
}

# Loaded from the document itself rather than through `schemathesis.pytest.from_fixture`,
# whose lazy loading breaks on pytest 9.2 (it sets the removed `Node._nodeid`). Each
# operation is then its own test, with a fresh world.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            # A well-formed request may still break a business rule the document cannot
            # express (a delivery time in the past): that is 422, never 400.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
            }
        }
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


class TestApp:
    """The WSGI app schemathesis calls: the Flask app of the current test, set by its fixture."""

    __test__ = False
    flask_app = None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self.flask_app(environ, start_response)  # type: ignore[misc]


schema.app = TestApp()


@schema.auth(refresh_interval=None)
class Bearer:
    """The token of the person who may use the operation."""

    def get(self, case, context):  # type: ignore[no-untyped-def]
        caller = CALLER_BY_OPERATION.get(context.operation.definition.raw.get("operationId"))
        return SECRETS[caller or DEFAULT_CALLER]

    def set(self, case, data, context):  # type: ignore[no-untyped-def]
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def api_world(app, db, world):  # type: ignore[no-untyped-def]
    """The world with orders in every state, and a token for each of its people."""
    ledger.allocate(db, world.line, 50_000_000, actor=None, reason="APBD-P")
    ProductFactory(
        vendor=world.vendor, category=world.product.category, name="Snack Box Tradisional"
    )
    for state in STATES:
        world.order_in(db, state)
    for name, secret in SECRETS.items():
        db.add(
            ApiToken(
                user_id=getattr(world, name).id,
                name="schemathesis",
                prefix=secret[: tokens.PREFIX_LENGTH],
                token_hash=tokens.hash_token(secret),
                scopes=ALL_SCOPES,
            )
        )
    db.commit()  # the app's own sessions must see it; the test session stays idle from here
    schema.app.flask_app = app
    yield app
    schema.app.flask_app = None


@schema.parametrize()
@settings(
    # API_FUZZ_EXAMPLES=500 for a deeper run than CI's
    max_examples=int(os.environ.get("API_FUZZ_EXAMPLES", "25")),
    deadline=None,
    database=None,
    # One world per operation, shared by its examples: they may change it, as people would.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_response_matches_the_document(case, api_world):  # type: ignore[no-untyped-def]
    case.call_and_validate()

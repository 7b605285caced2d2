"""API tokens: made on one's account page and shown once, stored as a hash, refused once
revoked or expired, limited by scopes, and the only way into the API."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from catalog.db import utcnow
from marketplace.api.models import ApiToken
from marketplace.audit.models import AuditEvent
from tests.marketplace.api.conftest import API, bearer
from tests.support import PASSWORD

TOKEN_IN_PAGE = re.compile(r'value="(eo_[A-Za-z0-9_-]+)"')


def _create_on_page(client, name="SIPD sync", scopes=("orders:read", "budgets:read")):  # type: ignore[no-untyped-def]
    return client.post(
        "/account/api-tokens/", data={"name": name, "scopes": list(scopes), "expires_in": "90"}
    )


def test_a_token_is_shown_once_and_stored_only_as_a_hash(login, world, db):
    client = login(world.approver)
    page = _create_on_page(client)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    secret = TOKEN_IN_PAGE.search(page.get_data(as_text=True)).group(1)

    stored = db.scalars(select(ApiToken)).one()
    assert stored.user_id == world.approver.id
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.prefix == secret[:8]
    assert stored.scopes == ["orders:read", "budgets:read"]
    assert secret not in repr(
        [getattr(stored, c.key) for c in ApiToken.__table__.columns]
    )  # nothing but the hash and the prefix
    assert (utcnow() + timedelta(days=89)) < stored.expires_at < utcnow() + timedelta(days=91)
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "api_token.create")).all()
    assert len(events) == 1 and secret not in str(events[0].after)

    listing = client.get("/account/api-tokens/").get_data(as_text=True)
    assert secret not in listing
    assert stored.prefix in listing and "SIPD sync" in listing

    assert client.get(f"{API}/orders", headers=bearer(secret)).status_code == 200


def test_creating_a_token_needs_a_name_and_a_scope(login, world, db):
    client = login(world.approver)
    response = _create_on_page(client, name="  ", scopes=())
    assert response.status_code == 400
    assert db.scalars(select(ApiToken)).first() is None


def test_the_token_form_is_protected_against_cross_site_requests(csrf_client, world, db):
    login_page = csrf_client.get("/login").get_data(as_text=True)
    csrf_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page)
    csrf_token = csrf_token or re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    logged_in = csrf_client.post(
        "/login",
        data={
            "email": world.approver.email,
            "password": PASSWORD,
            "csrf_token": csrf_token.group(1),
        },
    )
    assert logged_in.status_code == 302
    response = csrf_client.post(
        "/account/api-tokens/", data={"name": "x", "scopes": ["orders:read"]}
    )
    assert response.status_code == 400
    assert db.scalars(select(ApiToken)).first() is None


def test_a_revoked_token_is_refused(login, world, db, make_token):
    secret = make_token(world.approver)
    token = db.scalars(select(ApiToken)).one()
    client = login(world.approver)
    assert client.get(f"{API}/orders", headers=bearer(secret)).status_code == 200

    response = client.post(f"/account/api-tokens/{token.id}/revoke")
    assert response.status_code == 302
    db.refresh(token)
    assert token.revoked_at is not None

    refused = client.get(f"{API}/orders", headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.get_json()["detail"] == "The API token has been revoked."


def test_nobody_revokes_another_persons_token(login, world, db, make_token):
    make_token(world.approver)
    token = db.scalars(select(ApiToken)).one()
    client = login(world.requester)
    assert client.post(f"/account/api-tokens/{token.id}/revoke").status_code == 404
    db.refresh(token)
    assert token.revoked_at is None


def test_an_expired_token_gets_401(client, world, db, make_token):
    secret = make_token(world.approver)
    token = db.scalars(select(ApiToken)).one()
    token.expires_at = utcnow() - timedelta(minutes=1)
    response = client.get(f"{API}/orders", headers=bearer(secret))
    assert response.status_code == 401
    assert response.get_json()["detail"] == "The API token has expired."


def test_missing_or_malformed_credentials_get_401(client, world, make_token):
    secret = make_token(world.approver)
    for headers in (
        {},
        {"Authorization": secret},
        {"Authorization": f"Basic {secret}"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer eo_unknown"},
        {"Authorization": f"Bearer {secret}x"},
    ):
        response = client.get(f"{API}/orders", headers=headers)
        assert response.status_code == 401, headers
        assert response.mimetype == "application/problem+json"
        assert "Bearer" in response.headers["WWW-Authenticate"]


def test_a_logged_in_browser_session_does_not_open_the_api(login, world):
    client = login(world.approver)
    assert client.get("/orders").status_code == 200  # the pages work
    assert client.get(f"{API}/orders").status_code == 401


def test_a_disabled_account_s_tokens_stop_working(client, world, make_token):
    secret = make_token(world.approver)
    world.approver.active = False
    assert client.get(f"{API}/orders", headers=bearer(secret)).status_code == 401


def test_a_missing_scope_is_403(client, world, make_token):
    secret = make_token(world.approver, scopes=["catalog:read"])
    assert client.get(f"{API}/catalog/products", headers=bearer(secret)).status_code == 200
    response = client.get(f"{API}/orders", headers=bearer(secret))
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["type"] == "urn:e-order:problem:insufficient-scope"
    assert "orders:read" in problem["detail"]
    assert 'scope="orders:read"' in response.headers["WWW-Authenticate"]


def test_a_read_only_token_lists_no_actions_and_cannot_act(client, world, db, make_token):
    order = world.order_in(db, "submitted")
    secret = make_token(world.approver, scopes=["orders:read"])
    read = client.get(f"{API}/orders/{order.id}", headers=bearer(secret)).get_json()
    assert read["available_actions"] == []
    response = client.post(f"{API}/orders/{order.id}/actions/approve", headers=bearer(secret))
    assert response.status_code == 403
    db.refresh(order)
    assert order.status.value == "submitted"


def test_last_used_is_written_at_most_once_a_minute(client, world, db, make_token):
    secret = make_token(world.approver)
    token = db.scalars(select(ApiToken)).one()
    assert token.last_used_at is None
    client.get(f"{API}/orders", headers=bearer(secret))
    first = token.last_used_at
    assert first is not None

    token.last_used_at = first - timedelta(seconds=30)
    client.get(f"{API}/orders", headers=bearer(secret))
    assert token.last_used_at == first - timedelta(seconds=30)  # not rewritten

    token.last_used_at = first - timedelta(minutes=2)
    client.get(f"{API}/orders", headers=bearer(secret))
    assert token.last_used_at > first - timedelta(minutes=1)


def test_the_api_needs_no_csrf_token(csrf_client, world, db, make_token):
    order = world.order_in(db, "submitted")
    secret = make_token(world.approver)
    response = csrf_client.post(
        f"{API}/orders/{order.id}/actions/approve", headers=bearer(secret), json={}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "approved"

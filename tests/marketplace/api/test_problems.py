"""Every error under /api/v1 is `application/problem+json`, never an HTML page."""

from __future__ import annotations

import pytest

from tests.marketplace.api.conftest import API, bearer

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["instance"] == response.request.path
    assert "<html" not in response.get_data(as_text=True)
    return body


@pytest.fixture
def secret(world, make_token):  # type: ignore[no-untyped-def]
    return make_token(world.approver)


def test_400_names_the_fields(client, secret):
    body = assert_problem(client.get(f"{API}/orders?per_page=500", headers=bearer(secret)), 400)
    assert body["errors"] == {"per_page": ["Must be at most 100."]}


def test_400_for_a_body_that_is_not_json_or_not_an_object(client, world, db, secret):
    order = world.order_in(db, "submitted")
    url = f"{API}/orders/{order.id}/actions/approve"
    headers = bearer(secret, **{"Content-Type": "application/json"})
    assert_problem(client.post(url, data="{not json", headers=headers), 400)
    assert_problem(client.post(url, data="[1, 2]", headers=headers), 400)
    assert_problem(client.post(url, data='{"version": NaN}', headers=headers), 400)
    assert_problem(client.post(url, data="[" * 100_000, headers=headers), 400)


def test_401_carries_www_authenticate(client):
    response = client.get(f"{API}/budget-lines")
    body = assert_problem(response, 401)
    assert body["type"] == "urn:e-order:problem:invalid-token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_404_for_unknown_addresses_and_objects(client, secret):
    assert_problem(client.get(f"{API}/nothing/here"), 404)
    assert_problem(client.get(f"{API}/"), 404)
    assert_problem(client.get(API), 404)
    assert_problem(client.get(f"{API}/orders/abc", headers=bearer(secret)), 404)
    assert_problem(client.get(f"{API}/orders/99999999999", headers=bearer(secret)), 404)
    body = assert_problem(client.get(f"{API}/orders/4242", headers=bearer(secret)), 404)
    assert body["detail"] == "No such order."
    assert_problem(client.post(f"{API}/orders/1/actions/fly", headers=bearer(secret)), 404)


def test_405_lists_the_allowed_methods(client, secret):
    for method in ("delete", "put", "patch"):
        response = getattr(client, method)(f"{API}/orders", headers=bearer(secret))
        assert_problem(response, 405)
        assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    response = client.open(f"{API}/payments", method="TRACE")
    assert_problem(response, 405)


def test_409_for_a_step_the_order_is_not_ready_for(client, world, db, secret):
    order = world.order_in(db, "delivered")
    body = assert_problem(
        client.post(f"{API}/orders/{order.id}/actions/approve", headers=bearer(secret)), 409
    )
    assert "delivered" in body["detail"]


def test_413_for_a_body_too_large(client, world, db, secret):
    order = world.order_in(db, "submitted")
    response = client.post(
        f"{API}/orders/{order.id}/actions/reject",
        data='{"reason": "' + "x" * 300_000 + '"}',
        headers=bearer(secret, **{"Content-Type": "application/json"}),
    )
    assert_problem(response, 413)


def test_415_for_a_body_that_is_not_json(client, world, db, secret):
    order = world.order_in(db, "submitted")
    url = f"{API}/orders/{order.id}/actions/reject"
    assert_problem(client.post(url, data={"reason": "form-encoded"}, headers=bearer(secret)), 415)
    assert_problem(
        client.post(url, data="reason", headers=bearer(secret, **{"Content-Type": "text/plain"})),
        415,
    )


def test_500_is_a_problem_too_and_says_nothing_of_the_cause(app, client, secret, monkeypatch):
    from marketplace.budgets import services

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(services, "visible_budget_lines", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.get(f"{API}/budget-lines", headers=bearer(secret))
    body = assert_problem(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert body["title"] == "Internal Server Error"


def test_pages_outside_the_api_keep_their_html_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"

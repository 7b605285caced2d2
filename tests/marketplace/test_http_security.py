"""Security headers on every kind of response, the proxy fix, cookies, production's refusals and
the request log."""

from __future__ import annotations

import json
import logging
import re
import sys
from html.parser import HTMLParser

import pytest

from marketplace import create_app
from marketplace.config import DEFAULT_SECRET_KEY, ProductionConfig, TestingConfig
from marketplace.logging_setup import JsonFormatter
from tests.support import PASSWORD

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STRONG_SECRET = "s" * 48


def directives(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    parsed = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def nonce_of(response) -> str:  # type: ignore[no-untyped-def]
    return next(s for s in directives(response)["script-src"] if s.startswith("'nonce-"))


def assert_secure_headers(response) -> None:  # type: ignore[no-untyped-def]
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["form-action"] == ["'self'", "https://checkout.stripe.com"]
    script = policy["script-src"]
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert len(nonce_of(response)) > len("'nonce-'") + 16
    permissions = response.headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment"):
        assert f"{feature}=()" in permissions
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP here
    assert re.fullmatch(r"[A-Za-z0-9-]{1,64}", response.headers["X-Request-ID"])


def test_headers_on_a_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_headers_on_a_404(client, world, login):
    login(world.requester)
    response = client.get("/orders/999999")
    assert response.status_code == 404
    assert_secure_headers(response)


def test_headers_on_a_403(client, world, login):
    login(world.requester)
    response = client.get("/admin/taxes")
    assert response.status_code == 403
    assert_secure_headers(response)


def test_headers_on_downloads(client, world, db):
    world.order_in(db, "reconciled")  # the open-data feed lists completed orders
    db.commit()
    for url in ("/open-data/ocds/releases.json", "/static/css/app.css"):
        with client.get(url) as response:  # a file is streamed: close it
            assert response.status_code == 200, url
            assert_secure_headers(response)


def test_headers_on_an_api_problem(client):
    response = client.get("/api/v1/orders")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert_secure_headers(response)


def test_each_response_has_a_fresh_nonce(client):
    assert len({nonce_of(client.get("/")) for _ in range(3)}) == 3


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_nonces: list[str | None] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        named = dict(attrs)
        if tag == "script" and not named.get("src"):
            self.inline_nonces.append(named.get("nonce"))
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.handlers.append(f"<{tag} {name}>")


def test_no_inline_script_without_the_nonce(client, world, login, db):
    order = world.order_in(db, "submitted")
    db.commit()
    pages = [
        (None, "/"),
        (None, "/login"),
        (world.requester, "/"),
        (world.requester, "/catalog/"),
        (world.requester, f"/catalog/products/{world.product.id}"),
        (world.requester, f"/orders/{order.id}"),
        (world.finance, "/finance/"),
        (world.finance, "/finance/payments"),
    ]
    for person, url in pages:
        if person is not None:
            login(person)
        response = client.get(url)
        assert response.status_code == 200, url
        parser = _Scripts()
        parser.feed(response.get_data(as_text=True))
        assert all(f"'nonce-{found}'" == nonce_of(response) for found in parser.inline_nonces)
        assert parser.handlers == [], url  # event-handler attributes can carry no nonce


def _app(**settings):  # type: ignore[no-untyped-def]
    class Config(TestingConfig):
        DATABASE_URL = "sqlite://"

    for name, value in settings.items():
        setattr(Config, name, value)
    return create_app(Config)


def test_hsts_only_over_https_through_a_trusted_proxy():
    behind_proxy = _app(PROXY_FIX_HOPS=1).test_client()
    secure = behind_proxy.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    plain = behind_proxy.get("/healthz", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in plain.headers
    # Without the proxy fix, a forged header is not believed.
    direct = _app().test_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in direct.headers


def test_proxy_fix_trusts_the_forwarded_client_address():
    app = _app(PROXY_FIX_HOPS=1)

    @app.get("/_test/remote")
    def remote():  # type: ignore[no-untyped-def]
        from flask import request

        return {"addr": request.remote_addr, "scheme": request.scheme}

    seen = app.test_client().get(
        "/_test/remote", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    )
    assert seen.get_json() == {"addr": "203.0.113.9", "scheme": "https"}


def _session_cookie(response) -> str:  # type: ignore[no-untyped-def]
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_flags_after_login(client, world):
    response = client.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def _production_app(**settings):  # type: ignore[no-untyped-def]
    class Config(ProductionConfig):
        SECRET_KEY = STRONG_SECRET
        DATABASE_URL = "sqlite://"
        LOG_JSON = False  # keep the test run's own logging as it is

    for name, value in settings.items():
        setattr(Config, name, value)
    return create_app(Config)


def test_production_cookies_are_secure():
    production = _production_app()
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert production.config["REMEMBER_COOKIE_SECURE"] is True
    assert production.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert production.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert production.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 8 * 3600

    @production.get("/_test/session")
    def touch():  # type: ignore[no-untyped-def]
        from flask import session

        session["seen"] = True
        return "ok"

    cookie = _session_cookie(production.test_client().get("/_test/session"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_json_logs_are_the_production_default():
    assert ProductionConfig.LOG_JSON is True or "EORDER_LOG_JSON" in __import__("os").environ
    assert TestingConfig.LOG_JSON is False


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"SECRET_KEY": DEFAULT_SECRET_KEY}, "SECRET_KEY"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 31}, "SECRET_KEY"),
        ({"DEBUG": True}, "Debug"),
        ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE"),
    ],
)
def test_production_refuses_unsafe_settings(settings, message):
    with pytest.raises(RuntimeError, match=message):
        _production_app(**settings)


def test_production_starts_with_a_long_secret():
    assert _production_app(SECRET_KEY="x" * 32).config["ENV_NAME"] == "production"


def test_request_id_echoed_and_logged(client, world, login, caplog):
    login(world.requester)
    caplog.set_level(logging.INFO, logger="marketplace.request")
    response = client.get("/orders?password=hunter2", headers={"X-Request-ID": "req-42-abc"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-42-abc"
    records = [r for r in caplog.records if r.name == "marketplace.request"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["method"] == "GET"
    assert line["path"] == "/orders"
    assert line["status"] == 200
    assert line["request_id"] == "req-42-abc"
    assert line["user_id"] == world.requester.id
    assert isinstance(line["duration_ms"], float)
    assert "hunter2" not in json.dumps(line) and "session" not in json.dumps(line)


@pytest.mark.parametrize("offered", ["", "x" * 65, "bad id", "a;b", "ü"])
def test_malformed_request_id_is_replaced(client, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered})
    assigned = response.headers["X-Request-ID"]
    assert assigned != offered
    assert re.fullmatch(r"[A-Za-z0-9-]{1,64}", assigned)


def test_json_formatter_carries_the_traceback_and_request_id():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    record.request_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "ERROR" and line["message"] == "failed"
    assert line["request_id"] == "abc"
    assert "ValueError: boom" in line["exception"]

"""Configuration, one class per environment. Secrets come only from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

DEFAULT_SECRET_KEY = "development-only-secret-key-change-me"  # noqa: S105 (refused in production)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    return raw in ("1", "true", "yes", "on")


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'eorder.sqlite'}")
    #: test each pooled PostgreSQL connection with a round trip before a request uses it, so
    #: a restarted database server fails no request; off saves that round trip per request
    #: (a dropped connection then answers one 503 and the pool is renewed). No effect on SQLite.
    DATABASE_POOL_PRE_PING = _bool_env("EORDER_DB_PRE_PING", True)
    DEMO_MODE = os.environ.get("EORDER_DEMO", "") == "1"
    #: seconds a signed-in person loaded for a catalogue page view is used again by the next
    #: ones in the same process (marketplace/accounts/recent_users.py says what that delays);
    #: 0 reads them on every request
    USER_CACHE_SECONDS = _int_env("EORDER_USER_CACHE_SECONDS", 10)
    #: uploaded photos and documents; share it between app nodes
    UPLOAD_DIR = os.environ.get("EORDER_UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    #: the Whoosh search index; each node may keep its own
    SEARCH_INDEX_DIR = os.environ.get("EORDER_SEARCH_INDEX_DIR", str(INSTANCE_DIR / "search-index"))

    BABEL_DEFAULT_LOCALE = "id"
    BABEL_DEFAULT_TIMEZONE = "Asia/Jakarta"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "marketplace" / "translations")
    LANGUAGES = ("id", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    #: a working day; only sessions marked permanent last beyond the browser's own session
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    #: reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted;
    #: 0 trusts none (the app faces the client directly). Set it to the real count: a higher
    #: number lets clients forge their address and make plain HTTP look like HTTPS.
    PROXY_FIX_HOPS = _int_env("EORDER_PROXY_FIX_HOPS", 0)
    #: where forms may be sent besides this site (the card rail's 303 to Stripe Checkout)
    CSP_FORM_ACTION_SOURCES: tuple[str, ...] = ("https://checkout.stripe.com",)
    #: one JSON object per log line on stdout, with a line per request (docs/operations.md)
    LOG_JSON = _bool_env("EORDER_LOG_JSON", False)
    #: "remember me on this device": how long the cookie lasts; logging out anywhere, a new
    #: password or "log out everywhere" revokes it (it carries the user's session version)
    REMEMBER_COOKIE_DURATION = timedelta(days=_int_env("EORDER_REMEMBER_DAYS", 14))
    #: roles whose holders must log in with a second factor (TOTP); others may choose to.
    #: Comma-separated role names; empty requires it of nobody.
    TWO_FACTOR_REQUIRED_ROLES = os.environ.get("EORDER_2FA_REQUIRED_ROLES", "")
    #: the name authenticator apps show next to the code
    TWO_FACTOR_ISSUER = os.environ.get("EORDER_2FA_ISSUER", "e-Order")
    #: minutes after a log-in (or a password confirmation) within which approving, paying and
    #: changing budgets go through without asking for the password again
    RECENT_LOGIN_MINUTES = _int_env("EORDER_RECENT_LOGIN_MINUTES", 30)
    MAX_CONTENT_LENGTH = 12 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 8 * 3600

    #: rupiah; orders above it also need the budget holder's approval
    SECOND_APPROVAL_THRESHOLD = _int_env("EORDER_SECOND_APPROVAL_THRESHOLD", 10_000_000)
    #: rupiah; one agency's orders to one vendor for one day above it are flagged as split
    SPLIT_PURCHASE_THRESHOLD = _int_env("EORDER_SPLIT_PURCHASE_THRESHOLD", 10_000_000)
    #: rupiah; no single order may exceed it
    ORDER_CAP = _int_env("EORDER_ORDER_CAP", 50_000_000)
    #: working days the vendor has to accept or decline an approved order (never past delivery)
    ACCEPTANCE_WORKING_DAYS = _int_env("EORDER_ACCEPTANCE_WORKING_DAYS", 3)
    #: days after receipt by which the vendor can expect payment
    PAYMENT_DUE_DAYS = _int_env("EORDER_PAYMENT_DUE_DAYS", 14)
    #: a delivery not confirmed within this many days is listed to the agency as overdue
    RECEIPT_DUE_DAYS = _int_env("EORDER_RECEIPT_DUE_DAYS", 3)

    #: outgoing e-mail over SMTP; without a host, messages wait in the outbox
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _int_env("SMTP_PORT", 587)
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    #: "starttls" (port 587), "ssl" (port 465) or "none" (a local relay)
    SMTP_SECURITY = os.environ.get("SMTP_SECURITY", "starttls")
    MAIL_FROM = os.environ.get("MAIL_FROM", "e-Order <no-reply@eorder.example.go.id>")
    #: the address people reach the site at, for links in e-mails
    PUBLIC_BASE_URL = os.environ.get("EORDER_PUBLIC_BASE_URL", "http://127.0.0.1:5000")

    #: the government card rail; without a secret key it is hidden and transfers still work
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    #: another Stripe API address (a local test server); empty means Stripe itself
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")
    #: seconds to wait for Stripe before a request is retried (with the same idempotency key)
    STRIPE_TIMEOUT = _int_env("STRIPE_TIMEOUT", 20)
    #: seconds a webhook's signature timestamp may be old
    STRIPE_WEBHOOK_TOLERANCE = _int_env("STRIPE_WEBHOOK_TOLERANCE", 300)

    #: Redis for rate-limit counters shared between app nodes; empty means each node counts alone
    REDIS_URL = os.environ.get("REDIS_URL", "")
    RATELIMIT_STORAGE_URI = REDIS_URL or "memory://"
    RATELIMIT_ENABLED = True
    #: log-in attempts per client address and e-mail address
    LOGIN_RATE_LIMIT = os.environ.get("EORDER_LOGIN_RATE_LIMIT", "5 per minute;20 per hour")
    #: log-in attempts per client address, whatever the e-mail (an office shares one address)
    LOGIN_IP_RATE_LIMIT = os.environ.get("EORDER_LOGIN_IP_RATE_LIMIT", "30 per minute;300 per hour")

    DEBUG = False
    TESTING = False
    ENV_NAME = "development"


class DevelopmentConfig(Config):
    DEBUG = False  # the Werkzeug debugger stays off unless FLASK_DEBUG is set explicitly
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"  # noqa: S105
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    #: the suite logs in a lot; the log-in security tests switch it on for their own app
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    LOG_JSON = False  # tests read records through caplog
    #: the suite's apps live for the whole run while ids repeat from test to test; the tests of
    #: the cache switch it on for an app of their own
    USER_CACHE_SECONDS = 0
    PROXY_FIX_HOPS = 0


class ProductionConfig(Config):
    ENV_NAME = "production"
    #: in production the people who approve, hold budgets, pay, reconcile and curate use a
    #: second factor unless the deployment says otherwise
    TWO_FACTOR_REQUIRED_ROLES = os.environ.get(
        "EORDER_2FA_REQUIRED_ROLES", "approver,budget_holder,treasurer,finance,curator"
    )
    LOG_JSON = _bool_env("EORDER_LOG_JSON", True)


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for_environment() -> type[Config]:
    name = os.environ.get("EORDER_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"EORDER_ENV must be one of {', '.join(CONFIGS)}, not {name!r}"
        ) from None

"""The card rail under test: a fake Stripe server the real `stripe` library talks to over
HTTP, the app configured for it, and Stripe's webhooks delivered through a test client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.audit.models import AuditEvent
from marketplace.payments.models import Payment
from tests.fakes.stripe_server import FakeStripe

STRIPE_KEYS = (
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "STRIPE_WEBHOOK_TOLERANCE",
    "STRIPE_TIMEOUT",
)
MISSING = object()
WEBHOOK = "/payments/stripe/webhook"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        yield fake


def _configure(app: Flask, values: dict[str, object]) -> Iterator[None]:
    saved = {key: app.config.get(key, MISSING) for key in STRIPE_KEYS}
    app.config.update(values)
    yield
    for key, value in saved.items():
        if value is MISSING:
            app.config.pop(key, None)
        else:
            app.config[key] = value


@pytest.fixture
def stripe_config(app: Flask, fake_stripe: FakeStripe) -> Iterator[None]:
    """The app's card rail pointed at the fake (short timeouts, so retries are quick)."""
    yield from _configure(
        app,
        {
            "STRIPE_SECRET_KEY": fake_stripe.api_key,
            "STRIPE_WEBHOOK_SECRET": fake_stripe.webhook_secret,
            "STRIPE_API_BASE": fake_stripe.url,
            "STRIPE_WEBHOOK_TOLERANCE": 300,
            "STRIPE_TIMEOUT": 1,
        },
    )


@pytest.fixture
def no_stripe(app: Flask) -> Iterator[None]:
    """The app without Stripe keys: the card rail is hidden."""
    yield from _configure(
        app, {"STRIPE_SECRET_KEY": "", "STRIPE_WEBHOOK_SECRET": "", "STRIPE_API_BASE": ""}
    )


@pytest.fixture
def stripe(app: Flask, db: Session, fake_stripe: FakeStripe, stripe_config: None) -> FakeStripe:
    """The fake Stripe, sending its signed webhooks to the app (a client of its own)."""
    sender = app.test_client()
    sender.test_session = db  # type: ignore[attr-defined]
    fake_stripe.deliver_to = lambda body, headers: sender.post(WEBHOOK, data=body, headers=headers)
    return fake_stripe


@dataclass
class Card:
    """Drives the treasurer's side: pay orders by card as in the browser."""

    db: Session
    client: object
    stripe: FakeStripe

    def pay(self, *orders, expect: int = 303):  # type: ignore[no-untyped-def]
        response = self.client.post(  # type: ignore[attr-defined]
            "/payments/card", data={"orders": [order.id for order in orders]}
        )
        assert response.status_code == expect, response.get_data(as_text=True)[:500]
        return response

    def last_payment(self) -> Payment:
        payment = self.db.scalars(select(Payment).order_by(Payment.id.desc())).first()
        assert payment is not None
        return payment

    def audit_count(self, action: str, object_id: int | None = None) -> int:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        if object_id is not None:
            query = query.where(AuditEvent.object_id == object_id)
        return int(self.db.scalar(query) or 0)


@pytest.fixture
def card(db, world, login, stripe) -> Card:  # type: ignore[no-untyped-def]
    """The world's treasurer, logged in, with Stripe configured."""
    client = login(world.treasurer)
    return Card(db=db, client=client, stripe=stripe)

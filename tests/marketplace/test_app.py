"""The app factory, production safety and the command-line tasks."""

import pytest
from sqlalchemy import func, select

from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.config import DEFAULT_SECRET_KEY, ProductionConfig
from marketplace.ordering.states import OrderStatus


def test_production_refuses_the_default_secret_key():
    class Unsafe(ProductionConfig):
        SECRET_KEY = DEFAULT_SECRET_KEY
        DATABASE_URL = "sqlite://"

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Unsafe)


def test_production_refuses_debug():
    class Debugging(ProductionConfig):
        SECRET_KEY = "a-real-secret-from-the-environment"
        DATABASE_URL = "sqlite://"
        DEBUG = True

    with pytest.raises(RuntimeError, match="Debug"):
        create_app(Debugging)


def test_error_pages_are_friendly(client, world, login):
    login(world.requester)
    response = client.get("/orders/999999")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def test_seed_demo_only_once(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "demo-eorder-2026" in result.output
    users = db.scalar(select(func.count()).select_from(User))
    assert users > 20
    db.commit()  # end the read before the command writes
    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "already has data" in again.output
    assert db.scalar(select(func.count()).select_from(User)) == users


def test_orders_expire_command(app, db, world):
    from datetime import timedelta

    from marketplace.ordering import services as ordering

    order = world.order_in(db, "approved")
    order.approved_at = order.approved_at - timedelta(days=10)
    db.commit()
    result = app.test_cli_runner().invoke(args=["orders", "expire"])
    assert result.exit_code == 0, result.output
    assert "1 order(s) expired" in result.output
    db.refresh(order)
    assert order.status is OrderStatus.EXPIRED
    assert ordering.expire_unanswered_orders(db, world.rules) == []

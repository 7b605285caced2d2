"""The demo world: complete, consistent with the ledger, and every demo login works."""

from __future__ import annotations

from collections import Counter

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.models import Product, ProductStatus, Vendor, VendorStatus
from marketplace.accounts.models import Agency, Membership, Role, User
from marketplace.accounts.services import authenticate
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.demo import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    database_is_empty,
    demo_logins_text,
    seed,
)
from marketplace.ordering.models import Order
from marketplace.ordering.states import COMMITTED_STATUSES, OrderStatus


@pytest.fixture
def demo(app: Flask, db: Session) -> Session:
    seed(db, app.config)
    db.flush()
    return db


def test_the_world_has_agencies_vendors_and_a_catalogue(demo: Session) -> None:
    assert demo.scalar(select(func.count()).select_from(Agency)) == 3
    statuses = Counter(demo.scalars(select(Vendor.status)))
    assert statuses[VendorStatus.VERIFIED] >= 8
    assert statuses[VendorStatus.PENDING] == 1
    products = list(demo.scalars(select(Product)))
    assert len(products) >= 40
    assert len({product.category_id for product in products}) >= 6
    assert any(product.status is ProductStatus.PAUSED for product in products)
    assert all(product.price > 0 for product in products)


def test_every_role_is_held_by_someone(demo: Session) -> None:
    held = set(demo.scalars(select(Membership.role)))
    assert held == set(Role)
    # one person holds two roles in the first agency
    doubles = [user for user in demo.scalars(select(User)) if len(user.memberships) > 1]
    assert doubles


def test_orders_exist_in_every_status(demo: Session) -> None:
    orders = list(demo.scalars(select(Order)))
    assert {order.status for order in orders} == set(OrderStatus)
    assert len(orders) >= 20
    waiting = [o for o in orders if o.status is OrderStatus.SUBMITTED and o.approved_by_id]
    assert waiting and all(o.needs_second_approval and o.total > 10_000_000 for o in waiting)
    partial = [o for o in orders if o.received_total is not None and o.received_total < o.total]
    assert partial


def test_budget_lines_match_their_ledger(demo: Session) -> None:
    lines = list(demo.scalars(select(BudgetLine)))
    assert len(lines) >= 6
    for line in lines:
        demo.refresh(line)
        sums = Counter[EntryKind]()
        for entry in demo.scalars(select(BudgetEntry).where(BudgetEntry.budget_line_id == line.id)):
            sums[entry.kind] += entry.amount
        assert 50_000_000 <= line.allocation <= 300_000_000
        assert line.allocation == sums[EntryKind.ALLOCATE]
        assert line.spent == sums[EntryKind.SPEND]
        assert line.committed == (
            sums[EntryKind.COMMIT] - sums[EntryKind.RELEASE] - sums[EntryKind.SPEND]
        )
        assert line.available >= 0
        open_orders = demo.scalars(
            select(Order).where(
                Order.budget_line_id == line.id, Order.status.in_(COMMITTED_STATUSES)
            )
        )
        assert line.committed == sum(order.total for order in open_orders)


def test_every_demo_login_authenticates(demo: Session) -> None:
    assert len(DEMO_LOGINS) >= 15
    for _role, email, _does in DEMO_LOGINS:
        assert authenticate(demo, email, DEMO_PASSWORD) is not None, email
    assert authenticate(demo, DEMO_LOGINS[0][1], "wrong-password-here") is None


def test_logins_text_names_the_password_and_every_email() -> None:
    text = demo_logins_text()
    assert text.startswith(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for _role, email, _does in DEMO_LOGINS:
        assert email in text


def test_seeding_twice_is_prevented(app: Flask, db: Session) -> None:
    assert database_is_empty(db)
    seed(db, app.config)
    db.flush()
    assert not database_is_empty(db)

"""The demo world: complete, consistent with the ledger, and every demo login works."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.models import (
    DocumentStatus,
    Product,
    ProductStatus,
    ReviewState,
    Vendor,
    VendorDocument,
    VendorStatus,
)
from marketplace.accounts.models import Agency, Membership, Role, User
from marketplace.accounts.services import authenticate
from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.demo import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    database_is_empty,
    demo_logins_text,
    seed,
)
from marketplace.finance.exceptions import find_exceptions
from marketplace.finance.queries import FinanceScope
from marketplace.home import vendor_home
from marketplace.ordering.models import Order
from marketplace.ordering.states import COMMITTED_STATUSES, OrderStatus
from marketplace.web import today_in_jakarta

DEMO_VENDOR = "owner@dapur-bu-sari.demo.id"


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
        # money a vendor gave back after payment returns to the line
        assert line.spent == sums[EntryKind.SPEND] - sums[EntryKind.REFUND]
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


def _user(session: Session, email: str) -> User:
    return session.scalars(select(User).where(User.email == email)).one()


def test_the_demo_vendor_cooks_today_and_tomorrow(app: Flask, demo: Session) -> None:
    today = today_in_jakarta()
    home = vendor_home(demo, _user(demo, DEMO_VENDOR), today, app.config["PAYMENT_DUE_DAYS"])
    assert home is not None and home.vendor.trading_name == "Dapur Bu Sari"
    # and it waits for a payment that is late
    assert any(payment.late for payment in home.payments)
    days = Counter(order.delivery_date for order in home.deliveries)
    assert days[today] >= 2 and days[today + timedelta(days=1)] >= 2
    # in different time windows, for more than one agency
    assert len({order.delivery_time for order in home.deliveries}) >= 4
    assert len({order.agency_id for order in home.deliveries}) >= 2
    # the capacity calendar has bookings, one day close to the vendor's limit
    limit = home.vendor.max_portions_per_day
    booked = [day.booked for day in home.calendar]
    assert sum(1 for portions in booked if portions) >= 4
    assert any(0.8 * limit <= portions <= limit for portions in booked)


def test_other_vendors_deliver_today_or_tomorrow_too(demo: Session) -> None:
    today = today_in_jakarta()
    vendors = set(
        demo.scalars(
            select(Order.vendor_id).where(
                Order.status == OrderStatus.ACCEPTED,
                Order.delivery_date.between(today, today + timedelta(days=1)),
            )
        )
    )
    assert len(vendors) >= 3


def test_orders_placed_days_ago_keep_their_history(demo: Session) -> None:
    """Orders replayed on the demo clock: placed, approved and accepted days ago, in order,
    and their audit events say when."""
    today = today_in_jakarta()
    replayed = list(
        demo.scalars(
            select(Order).where(Order.status == OrderStatus.ACCEPTED, Order.delivery_date == today)
        )
    )
    assert replayed
    for order in replayed:
        assert order.submitted_at is not None and order.accepted_at is not None
        assert order.submitted_at <= order.approved_at <= order.accepted_at
        assert order.accepted_at.date() < today
    event = demo.scalars(
        select(AuditEvent).where(
            AuditEvent.object_type == "order",
            AuditEvent.object_id == replayed[0].id,
            AuditEvent.action.like("%accept%"),
        )
    ).first()
    assert event is not None and event.occurred_at.date() < today


def test_finance_has_open_exceptions(app: Flask, demo: Session) -> None:
    found = find_exceptions(
        demo,
        FinanceScope(None),
        today=today_in_jakarta(),
        payment_due_days=app.config["PAYMENT_DUE_DAYS"],
    )
    kinds = Counter(item.kind for item in found.open)
    assert kinds["unpaid_past_due"] == 2
    assert kinds["amount_mismatch"] == 1
    # one of the overdue orders was paid in part, with a reason
    assert any(0 < (item.actual or 0) < (item.expected or 0) for item in found.open)
    # nothing that would mean the demo itself is broken
    assert not kinds["duplicate_payment"] and not kinds["paid_without_receipt"]
    assert not kinds["refund_not_in_budget"]


def test_the_curator_and_the_vendor_have_paperwork(demo: Session) -> None:
    vendor = demo.scalars(select(Vendor).where(Vendor.trading_name == "Dapur Bu Sari")).one()
    states = Counter(product.review_state for product in vendor.products)
    assert states[ReviewState.PENDING] == 1
    rejected = [p for p in vendor.products if p.review_state is ReviewState.REJECTED]
    assert len(rejected) == 1 and rejected[0].review_note
    today = today_in_jakarta()
    expiring = [
        d
        for d in vendor.documents
        if d.status is DocumentStatus.VERIFIED and 0 <= (d.expires_on - today).days <= 30
    ]
    assert expiring
    waiting = demo.scalars(
        select(VendorDocument).where(VendorDocument.status == DocumentStatus.PENDING)
    ).all()
    assert waiting

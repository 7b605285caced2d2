"""No page runs more SQL statements because it shows more rows (no N+1).

Each main page is opened by the person who uses it, once with a few rows and once with three
times as many (orders in every state, products, ledger entries, payments, notifications, audit
events), and the number of statements must be the same.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import event, select

from marketplace.ordering.models import Order, OrderStatus
from marketplace.payments.models import Payment
from tests.support import ProductFactory

STATUSES = (
    "submitted",
    "approved",
    "accepted",
    "delivered",
    "received",
    "disputed",
    "paid",
    "reconciled",
    "rejected",
    "cancelled",
    "declined",
)

#: (person, page) — {order}, {line}, {product}, {vendor}, {payment} come from the world
PAGES = [
    ("requester", "/"),
    ("requester", "/catalog/"),
    ("requester", "/catalog/?q=nasi"),
    ("requester", "/catalog/products/{product}"),
    ("requester", "/catalog/vendors/{vendor}"),
    ("requester", "/orders"),
    ("requester", "/orders?status=received"),
    ("requester", "/cart"),
    ("approver", "/"),
    ("approver", "/approvals"),
    ("approver", "/orders"),
    ("approver", "/orders/{order}"),
    ("budget_holder", "/budgets/"),
    ("budget_holder", "/budgets/{line}"),
    ("treasurer", "/"),
    ("treasurer", "/payments/"),
    ("treasurer", "/payments/{payment}"),
    ("vendor_owner", "/"),
    ("vendor_owner", "/vendor/"),
    ("vendor_owner", "/vendor/payments"),
    ("vendor_owner", "/vendor/kitchen"),
    ("vendor_owner", "/orders"),
    ("finance", "/"),
    ("finance", "/finance/"),
    ("finance", "/finance/reconcile"),
    ("finance", "/finance/exceptions"),
    ("finance", "/finance/payments"),
    ("finance", "/finance/ledgers"),
    ("finance", "/finance/reports"),
    ("curator", "/"),
    ("curator", "/admin/vendors"),
    ("curator", "/admin/listings"),
    ("curator", "/admin/documents"),
    ("auditor", "/audit/"),
    ("approver", "/notifications/"),
]


def count_statements(engine, action: Callable[[], object]) -> int:  # type: ignore[no-untyped-def]
    count = 0

    def seen(*_args) -> None:  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return count


def _grow(db, world, rounds: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(rounds):
        for status in STATUSES:
            world.order_in(db, status, quantity=1)
        ProductFactory(vendor=world.vendor, category=world.product.category)
        ProductFactory(vendor=world.other_vendor, category=world.product.category)
    db.commit()


def _counts(app, db, world, client, login) -> dict[tuple[str, str], int]:  # type: ignore[no-untyped-def]
    engine = app.extensions["db_engine"]
    places = {
        "order": db.scalar(
            select(Order.id)
            .where(Order.agency_id == world.agency.id, Order.status == OrderStatus.PAID)
            .order_by(Order.id.desc())
        ),
        "line": world.line.id,
        "product": world.product.id,
        "vendor": world.vendor.id,
        "payment": db.scalar(select(Payment.id).order_by(Payment.id.desc())),
    }
    db.commit()
    counts = {}
    current = None
    for person, template in PAGES:
        if person != current:
            login(getattr(world, person))
            current = person
        path = template.format(**places)
        client.get(path)  # warm: first-use caches (translations, search reader) are not rows
        responses = []
        counts[(person, template)] = count_statements(
            engine, lambda path=path, seen=responses: seen.append(client.get(path).status_code)
        )
        assert responses == [200], (person, path, responses)
    return counts


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_no_page_grows_in_statements_with_its_rows(app, client, db, login, world):
    _grow(db, world, 1)
    few = _counts(app, db, world, client, login)
    _grow(db, world, 2)
    many = _counts(app, db, world, client, login)
    grown = {page: (few[page], many[page]) for page in PAGES if many[page] > few[page]}
    assert grown == {}, "statements with 1x rows -> 3x rows: " + ", ".join(
        f"{person} {path}: {a} -> {b}" for (person, path), (a, b) in grown.items()
    )

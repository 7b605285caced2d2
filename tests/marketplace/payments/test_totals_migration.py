"""Migration 0020 fills the per-order payment totals from the payments, allocations and
refunds already recorded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, make_url, text

from marketplace.db import make_engine
from marketplace.migrate import upgrade

ORDERS = [
    "INSERT INTO orders (id, agency_id, vendor_id, requester_id, status, activity_name,"
    " delivery_address, notes, total, needs_second_approval, status_reason,"
    " payment_reference, version, created_at) VALUES (:id, 1, 1, 1, 'paid', 'Rapat', '', '',"
    " 1000000, false, '', '', 1, '2026-11-01 03:00:00')",
    [{"id": order_id} for order_id in (1, 2, 3, 4)],
]
PAYMENTS = [
    "INSERT INTO payments (id, rail, status, agency_id, vendor_id, amount, paid_on, reference,"
    " payer_account, withholding_slips, partial_reason, failure_reason, created_at)"
    " VALUES (:id, :rail, :status, 1, 1, :amount, :paid_on, :reference, '', '[]', :partial,"
    " '', '2026-11-01 03:00:00')",
    [
        # a partial transfer, then the rest of order 1 in a batch with order 2
        ("transfer", "succeeded", 100_000, "2026-11-03", "Dana bertahap"),
        ("transfer", "succeeded", 500_000, "2026-11-05", ""),
        # order 2 paid again by card: a duplicate
        ("card", "succeeded", 300_000, "2026-11-04", ""),
        # a held charge on order 3, refunded; a failed one on order 4
        ("card", "held", 50_000, None, ""),
        ("card", "failed", 70_000, None, ""),
    ],
]
ALLOCATIONS = [
    "INSERT INTO payment_allocations (id, payment_id, order_id, amount)"
    " VALUES (:id, :payment_id, :order_id, :amount)",
    [
        (1, 1, 100_000),
        (2, 1, 200_000),
        (2, 2, 300_000),
        (3, 2, 300_000),
        (4, 3, 50_000),
        (5, 4, 70_000),
    ],
]
REFUNDS = [
    "INSERT INTO refunds (id, payment_id, order_id, amount, reason, status, reference,"
    " created_at) VALUES (:id, :payment_id, :order_id, :amount, 'x', :status, '',"
    " '2026-11-06 03:00:00')",
    [
        (2, 2, 20_000, "succeeded"),
        (2, 2, 5_000, "failed"),
        (1, 1, 1_000, "pending"),
        (4, 3, 50_000, "succeeded"),
    ],
]


def _rows() -> list[tuple[str, list[dict[str, object]]]]:
    payments = [
        {
            "id": n,
            "rail": rail,
            "status": status,
            "amount": amount,
            "paid_on": paid_on,
            "reference": f"REF-{n}",
            "partial": partial,
        }
        for n, (rail, status, amount, paid_on, partial) in enumerate(PAYMENTS[1], start=1)
    ]
    allocations = [
        {"id": n, "payment_id": p, "order_id": o, "amount": a}
        for n, (p, o, a) in enumerate(ALLOCATIONS[1], start=1)
    ]
    refunds = [
        {"id": n, "payment_id": p, "order_id": o, "amount": a, "status": s}
        for n, (p, o, a, s) in enumerate(REFUNDS[1], start=1)
    ]
    return [
        (ORDERS[0], ORDERS[1]),
        (PAYMENTS[0], payments),
        (ALLOCATIONS[0], allocations),
        (REFUNDS[0], refunds),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'before-0020.sqlite'}")
        yield engine
        engine.dispose()
        return
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("the PostgreSQL backfill runs when the suite runs on PostgreSQL")
    name = f"{make_url(url).database}_migration_0020"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def test_migration_fills_the_payment_totals_from_the_rows(fresh_engine):
    upgrade(fresh_engine, "0019")
    # rows of agencies, vendors and users that need not exist here: no parent rows
    if fresh_engine.dialect.name == "postgresql":
        with fresh_engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for statement, rows in _rows():
                connection.execute(text(statement), rows)
    else:
        raw = fresh_engine.raw_connection()
        try:
            raw.execute("PRAGMA foreign_keys = OFF")
            for statement, rows in _rows():
                raw.executemany(statement.replace("false", "0"), rows)
            raw.commit()
        finally:
            raw.close()

    upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT order_id, paid, refunded, payments, full_payments, last_paid_on"
                " FROM order_payment_totals ORDER BY order_id"
            )
        ).all()
    last = [row[5] if row[5] is None or isinstance(row[5], date) else date.fromisoformat(row[5])
            for row in rows]  # fmt: skip
    assert [(*row[:5], day) for row, day in zip(rows, last, strict=True)] == [
        # the partial transfer and the batch: two payments, one meant in full
        (1, 300_000, 0, 2, 1, date(2026, 11, 5)),
        # the batch and the card charge, less the succeeded refund (not the failed one)
        (2, 600_000, 20_000, 2, 2, date(2026, 11, 5)),
        # the held charge paid nothing; its refund succeeded
        (3, 0, 50_000, 0, 0, None),
    ]

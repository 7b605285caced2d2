"""Migration 0020 fills the per-order payment totals from the payments, allocations and
refunds already recorded; migration 0021 moves them onto the order rows, with each order's
current invoice amounts, and sums each received order's lines per category."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from marketplace.migrate import alembic_config, upgrade
from tests.support import scratch_engine

#: the parent rows the migrations' statements check on PostgreSQL (the rows below are
#: written with foreign keys off; an UPDATE or INSERT in the migration checks them again)
PARENTS = [
    "INSERT INTO agencies (id, code, name, address, city, created_at) VALUES"
    " (1, 'A1', 'Dinas', 'Jl. Medan Merdeka', 'Jakarta', '2026-01-01 00:00:00')",
    "INSERT INTO vendors (id, legal_name, trading_name, business_type, scale, district, city,"
    " phone, status, created_at) VALUES (1, 'UD Rasa', 'Rasa', 'individual', 'micro',"
    " 'Gambir', 'Jakarta', '0812', 'active', '2026-01-01 00:00:00')",
    "INSERT INTO users (id, email, name, position, password_hash, locale, active,"
    " session_version, created_at) VALUES (1, 'a@example.go.id', 'A', 'Staf', 'x', 'id', true,"
    " 1, '2026-01-01 00:00:00')",
    "INSERT INTO categories (id, slug, name_id, name_en, position) VALUES"
    " (1, 'nasi-kotak', 'Nasi kotak', 'Rice boxes', 1), (2, 'snack', 'Kudapan', 'Snacks', 2)",
]
ORDERS = [
    "INSERT INTO orders (id, agency_id, vendor_id, requester_id, status, activity_name,"
    " delivery_address, notes, total, needs_second_approval, status_reason,"
    " payment_reference, version, created_at, received_at) VALUES (:id, 1, 1, 1, 'paid',"
    " 'Rapat', '', '', 1000000, false, '', '', 1, '2026-11-01 03:00:00',"
    " '2026-11-02 03:00:00')",
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
PRODUCTS = [
    "INSERT INTO products (id, vendor_id, category_id, name, description, unit, price,"
    " min_order_quantity, lead_time_hours, status, created_at, updated_at) VALUES (:id, 1,"
    " :category_id, :name, '', 'box', :price, 1, 24, 'active', '2026-01-01 00:00:00',"
    " '2026-01-01 00:00:00')",
    [(1, 1, 10_000), (2, 1, 20_000), (3, 2, 5_000)],
]
LINES = [
    "INSERT INTO order_lines (id, order_id, product_id, product_name, unit, unit_price,"
    " quantity, quantity_received, receipt_remark) VALUES (:id, :order_id, :product_id, 'x',"
    " 'box', :price, :quantity, :received, '')",
    [
        # order 1: two products of category 1 (one received in part), one received not at all
        (1, 1, 10_000, 10, 10),
        (1, 2, 20_000, 5, 4),
        (1, 3, 5_000, 3, 0),
        # order 2: category 2; order 3: nothing received yet
        (2, 3, 5_000, 10, 10),
        (3, 1, 10_000, 1, None),
    ],
]
DOCUMENTS = [
    "INSERT INTO issued_documents (id, kind, order_id, agency_id, vendor_id, year, sequence,"
    " number, version, supersedes_id, correction_reason, content, content_sha256, issued_at,"
    " gross, charged_total, withheld_total, net_payable) VALUES (:id, :kind, :order_id, 1, 1,"
    " 2026, :sequence, :number, :version, :supersedes_id, '', '{}', '', '2026-11-02 03:00:00',"
    " :gross, :charged, :withheld, :net)",
    [
        # order 1: an invoice corrected once (the correction is current), and its BAST
        (1, "invoice", 1, 1, 1, None, 330_000, 33_000, 30_000, 300_000),
        (2, "invoice", 1, 1, 2, 1, 330_000, 33_000, 20_000, 310_000),
        (3, "bast", 1, 1, 1, None, None, None, None, None),
        # order 2: one invoice; orders 3 and 4 have none
        (4, "invoice", 2, 2, 1, None, 660_000, 66_000, 60_000, 600_000),
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
    documents = [
        {
            "id": n,
            "kind": kind,
            "order_id": o,
            "sequence": seq,
            "number": f"{kind.upper()}/{seq}",
            "version": version,
            "supersedes_id": supersedes,
            "gross": gross,
            "charged": charged,
            "withheld": withheld,
            "net": net,
        }
        for n, kind, o, seq, version, supersedes, gross, charged, withheld, net in DOCUMENTS[1]
    ]
    products = [
        {"id": n, "category_id": c, "name": f"Produk {n}", "price": price}
        for n, c, price in PRODUCTS[1]
    ]
    lines = [
        {"id": n, "order_id": o, "product_id": p, "price": price, "quantity": q, "received": r}
        for n, (o, p, price, q, r) in enumerate(LINES[1], start=1)
    ]
    return [
        *((statement, [{}]) for statement in PARENTS),
        (ORDERS[0], ORDERS[1]),
        (PRODUCTS[0], products),
        (LINES[0], lines),
        (DOCUMENTS[0], documents),
        (PAYMENTS[0], payments),
        (ALLOCATIONS[0], allocations),
        (REFUNDS[0], refunds),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    yield from scratch_engine(request.param, tmp_path, "migration_0020")


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

    expected = [
        # the partial transfer and the batch: two payments, one meant in full
        (1, 300_000, 0, 2, 1, date(2026, 11, 5)),
        # the batch and the card charge, less the succeeded refund (not the failed one)
        (2, 600_000, 20_000, 2, 2, date(2026, 11, 5)),
        # the held charge paid nothing; its refund succeeded
        (3, 0, 50_000, 0, 0, None),
    ]
    upgrade(fresh_engine, "0020")
    assert (
        _totals(
            fresh_engine,
            "SELECT order_id, paid, refunded, payments, full_payments, last_paid_on"
            " FROM order_payment_totals ORDER BY order_id",
        )
        == expected
    )

    upgrade(fresh_engine)  # 0021: onto the orders

    assert _totals(
        fresh_engine,
        "SELECT id, paid_total, refunded_total, payment_count, full_payment_count,"
        " last_paid_on FROM orders ORDER BY id",
    ) == [
        *expected[:2],
        # the held charge's refund gave back money the vendor never had: not refunded now
        (3, 0, 0, 0, 0, None),
        (4, 0, 0, 0, 0, None),
    ]
    with fresh_engine.connect() as connection:
        invoices = connection.execute(
            text("SELECT id, invoice_gross, net_payable FROM orders ORDER BY id")
        ).all()
        tables = inspect(connection).get_table_names()
    assert [tuple(row) for row in invoices] == [
        (1, 330_000, 310_000),  # the correction's amounts, not the superseded version's
        (2, 660_000, 600_000),
        (3, None, None),
        (4, None, None),
    ]
    # the old table stays, for nodes still on the previous release during the upgrade
    assert "order_payment_totals" in tables
    with fresh_engine.connect() as connection:
        by_category = connection.execute(
            text(
                "SELECT order_id, category_id, agency_id, amount FROM received_by_category"
                " ORDER BY order_id, category_id"
            )
        ).all()
    # what each received order spent per category, from its received lines
    assert [tuple(row) for row in by_category] == [(1, 1, 1, 180_000), (2, 2, 1, 50_000)]

    # back to 0020: the old table holds the totals as that release counted them
    downgrade(fresh_engine, "0020")
    assert (
        _totals(
            fresh_engine,
            "SELECT order_id, paid, refunded, payments, full_payments, last_paid_on"
            " FROM order_payment_totals ORDER BY order_id",
        )
        == expected
    )


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    config.attributes["configure_logger"] = False
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _totals(engine: Engine, query: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    last = [row[5] if row[5] is None or isinstance(row[5], date) else date.fromisoformat(row[5])
            for row in rows]  # fmt: skip
    return [(*row[:5], day) for row, day in zip(rows, last, strict=True)]

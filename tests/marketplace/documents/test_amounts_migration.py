"""Migration 0019 copies the amounts of the invoices already issued into their columns."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from marketplace.documents.services import content_digest, invoice_amounts
from marketplace.migrate import upgrade
from tests.support import scratch_engine

INVOICE = {
    "kind": "invoice",
    "received_on": "2026-11-02",
    "gross": 1_100_000,
    "taxes": {
        "gross": 1_100_000,
        "base": 1_000_000,
        "charged_total": 100_000,
        "withheld_total": 20_000,
        "net_payable": 1_080_000,
    },
    "net_payable": 1_080_000,
}
CORRECTED = {
    **INVOICE,
    "taxes": {**INVOICE["taxes"], "withheld_total": 0},
    "net_payable": 1_100_000,
}
BAST = {"kind": "bast", "received_on": "2026-11-02", "gross": 1_100_000}


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    yield from scratch_engine(request.param, tmp_path, "migration_0019")


def test_migration_fills_the_invoice_amounts_from_the_content(fresh_engine):
    upgrade(fresh_engine, "0018")
    postgres = fresh_engine.dialect.name == "postgresql"
    rows = [
        {
            "id": id_,
            "kind": kind,
            "number": f"{kind}/1",
            "version": version,
            "supersedes": supersedes,
            "content": json.dumps(content),
            "sha": content_digest(content),
            "at": "2026-11-02 03:00:00",
        }
        for id_, kind, version, supersedes, content in [
            (1, "bast", 1, None, BAST),
            (2, "invoice", 1, None, INVOICE),
            (3, "invoice", 2, 2, CORRECTED),
        ]
    ]
    insert = (
        "INSERT INTO issued_documents (id, kind, order_id, agency_id, vendor_id, year,"
        " sequence, number, version, supersedes_id, correction_reason, content,"
        " content_sha256, issued_at) VALUES (:id, :kind, 7, 1, 1, 2026, 1, :number,"
        " :version, :supersedes, '', :content, :sha, :at)"
    )
    # documents of orders that need not exist here: no parent rows for this check
    if postgres:
        with fresh_engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(insert), rows)
    else:
        raw = fresh_engine.raw_connection()
        try:
            raw.execute("PRAGMA foreign_keys = OFF")
            raw.executemany(insert, rows)
            raw.commit()
        finally:
            raw.close()

    upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, gross, charged_total, withheld_total, net_payable"
                " FROM issued_documents ORDER BY id"
            )
        ).all()
    assert [tuple(row[1:]) for row in rows] == [
        tuple(invoice_amounts(content).values()) for content in (BAST, INVOICE, CORRECTED)
    ]
    assert rows[2][1:] == (1_100_000, 100_000, 0, 1_100_000)
    if postgres:
        # the immutability trigger is back after the backfill
        with pytest.raises(Exception, match="never change"), fresh_engine.begin() as connection:
            connection.execute(text("UPDATE issued_documents SET gross = 1 WHERE id = 2"))

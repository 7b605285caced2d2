"""Helpers for audit-trail tests: tampering with the trail as someone with raw SQL access."""

from __future__ import annotations

import pytest
from sqlalchemy import text


def is_postgres(db) -> bool:  # type: ignore[no-untyped-def]
    return db.get_bind().dialect.name == "postgresql"


@pytest.fixture
def tamper(db):  # type: ignore[no-untyped-def]
    """tamper(sql, **params) runs raw SQL against the trail and commits it.

    On PostgreSQL the append-only trigger would refuse, so this plays a database superuser who
    switches it off for the change (and back on): the hash chain must still tell.
    """

    def _tamper(sql: str, **params: object) -> None:
        postgres = is_postgres(db)
        if postgres:
            db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        db.execute(text(sql), params)
        if postgres:
            db.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
        db.commit()
        db.expire_all()

    return _tamper

"""Fault tests: what a user and an operator see when a part of the system fails, and that
nothing is lost or half-written. Those needing PostgreSQL skip on SQLite."""

from __future__ import annotations

import pytest
from flask import Flask


@pytest.fixture
def postgres(app: Flask) -> None:
    """Skip unless the test database is PostgreSQL (set TEST_DATABASE_URL)."""
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): the fault is a server's")

"""SQLite transactions: page views read side by side; anything that may write takes the write
lock when it begins, so read-then-write sequences stay serial."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import event


@pytest.fixture
def begins(app, db):  # type: ignore[no-untyped-def]
    engine = app.extensions["db_engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("how transactions begin matters on SQLite")
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def test_a_page_view_begins_without_the_write_lock(client, db, login, world, begins):
    db.commit()
    login(world.requester)
    begins.clear()
    assert client.get("/catalog/").status_code == 200
    assert begins and set(begins) == {"BEGIN"}


def test_a_form_submission_begins_with_the_write_lock(client, db, login, world, begins):
    db.commit()
    login(world.requester)
    begins.clear()
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 10})
    assert begins and set(begins) == {"BEGIN IMMEDIATE"}


def test_a_page_view_that_writes_takes_the_lock_first(client, db, login, world, begins):
    db.commit()
    login(world.vendor_owner)
    begins.clear()
    assert client.get("/vendor/").status_code == 200  # expires documents on the way
    assert begins[-1] == "BEGIN IMMEDIATE"


def test_page_views_are_not_held_up_by_a_writer(app, client, db, login, world):
    url = app.extensions["db_engine"].url
    if url.get_backend_name() != "sqlite" or not url.database:
        pytest.skip("needs an SQLite file")
    db.commit()
    login(world.requester)
    writer = sqlite3.connect(url.database, timeout=1, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        assert client.get("/catalog/").status_code == 200
        assert client.get("/orders").status_code == 200
        assert time.monotonic() - started < 10  # not the 30 s busy timeout
    finally:
        writer.execute("ROLLBACK")
        writer.close()

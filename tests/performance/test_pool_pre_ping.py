"""The pooled connections' pre-ping: on for PostgreSQL unless the setting turns it off."""

from __future__ import annotations

import pytest
from flask import Flask

from marketplace.config import Config, TestingConfig
from marketplace.db import init_app, make_engine

SERVER_URL = "postgresql+psycopg://eorder@db.invalid:5432/eorder"


def test_a_server_database_pings_its_pooled_connections_by_default() -> None:
    engine = make_engine(SERVER_URL)
    assert engine.pool._pre_ping is True
    assert Config.DATABASE_POOL_PRE_PING is True


def test_the_setting_turns_the_ping_off() -> None:
    app = Flask(__name__)
    app.config.from_object(TestingConfig)
    app.config.update(DATABASE_URL=SERVER_URL, DATABASE_POOL_PRE_PING=False)
    init_app(app)
    assert app.extensions["db_engine"].pool._pre_ping is False


@pytest.mark.parametrize("value, expected", [("0", False), ("off", False), ("1", True)])
def test_the_environment_sets_it(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    import importlib

    import marketplace.config

    monkeypatch.setenv("EORDER_DB_PRE_PING", value)
    try:
        assert importlib.reload(marketplace.config).Config.DATABASE_POOL_PRE_PING is expected
    finally:
        monkeypatch.delenv("EORDER_DB_PRE_PING")
        importlib.reload(marketplace.config)


def test_without_the_ping_a_restarted_server_fails_one_request_then_the_pool_renews(
    database_url: str,
) -> None:
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): the fault is a server's")
    engine = make_engine(database_url, pre_ping=False)
    connections = [engine.connect() for _ in range(3)]
    pids = [c.connection.dbapi_connection.info.backend_pid for c in connections]
    for connection in connections:
        connection.close()
    plain = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchone()[0]:
            admin.execute("SELECT pg_sleep(0.01)")
    failures = 0
    for _ in range(4):
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError:
            failures += 1
    engine.dispose()
    assert failures == 1  # the first dead connection invalidates the whole pool

"""Engine and per-request session. SQLite transactions that may write take the write lock when
they begin; page views (GET) read without it."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool


def make_engine(url: str, *, pre_ping: bool = True, **kwargs: Any) -> Engine:
    """An engine for `url`. `pre_ping` (server databases only) tests each pooled connection
    with a round trip when a request takes it, so that a restarted database server costs no
    failed request; without it the first request on a dead connection answers 503 and the
    pool is renewed."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if in_memory else None,
            **kwargs,
        )
        _make_sqlite_transactions_serializable(engine, wal=not in_memory)
        return engine
    return create_engine(url, pool_pre_ping=pre_ping, **kwargs)


def _make_sqlite_transactions_serializable(engine: Engine, wal: bool) -> None:
    """Start SQLite transactions that may write with BEGIN IMMEDIATE.

    pysqlite would otherwise begin lazily, so two requests could both read a budget's
    available amount and then both spend it. BEGIN IMMEDIATE takes the write lock up front,
    making read-then-write sequences serial; busy_timeout makes the second writer wait.

    A page view (GET or HEAD) reads: it begins a plain deferred transaction, so that page views
    run side by side (WAL) instead of queueing for the write lock. A GET view that writes says
    so first with `will_write()`. Commands, services called outside a request and every other
    method keep BEGIN IMMEDIATE.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if _reads_only() else "BEGIN IMMEDIATE")


def _reads_only() -> bool:
    return (
        has_request_context()
        and request.method in ("GET", "HEAD")
        and not g.get("db_will_write", False)
    )


def will_write() -> None:
    """This GET request is going to write: its SQLite transactions take the write lock first.

    A read transaction the request already began (loading the logged-in user) is ended, so
    that the next one begins with the lock.
    """
    g.db_will_write = True
    session = g.get("db_session")
    if session is not None and session.in_transaction():
        session.commit()  # nothing was written: this only ends the read


def init_app(app: Flask) -> None:
    engine = make_engine(
        app.config["DATABASE_URL"], pre_ping=app.config.get("DATABASE_POOL_PRE_PING", True)
    )
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    from marketplace.audit.chain import install as seal_audit_events_at_commit

    seal_audit_events_at_commit(app.extensions["db_sessionmaker"])

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # rolls back whatever was not committed


def get_session() -> Session:
    """The session of the current request or CLI command; views commit it once."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def get_engine() -> Engine:
    return current_app.extensions["db_engine"]

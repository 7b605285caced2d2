"""A database connection dropped in the middle of a request: a clear 503 page (or problem
document under /api/) with Retry-After, nothing half-done, and the next request works."""

from __future__ import annotations

import contextlib

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from marketplace.api import tokens
from marketplace.api.schemas import ALL_SCOPES

UNAVAILABLE = "The service is briefly unavailable"


def admin_connection(app) -> psycopg.Connection:  # type: ignore[no-untyped-def]
    """A connection of its own to the test database, outside the app's pool."""
    url = make_url(app.config["DATABASE_URL"]).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def terminate_and_wait(admin: psycopg.Connection, pids: list[int]) -> None:
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # pg_terminate_backend only signals; wait until the backends are really gone
    while admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
    ).fetchone()[0]:
        admin.execute("SELECT pg_sleep(0.01)")


@contextlib.contextmanager
def backend_killed_at_next_statement(app, admin):  # type: ignore[no-untyped-def]
    """Terminate the app's database backend just before the next statement it sends."""
    engine = app.extensions["db_engine"]
    killed: list[int] = []

    def kill(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not killed:
            killed.append(conn.connection.dbapi_connection.info.backend_pid)
            terminate_and_wait(admin, killed)

    event.listen(engine, "before_cursor_execute", kill)
    try:
        yield killed
    finally:
        event.remove(engine, "before_cursor_execute", kill)


def test_a_dropped_connection_answers_503_and_the_next_request_works(
    app, client, db, login, world, postgres
):
    login(world.requester)
    assert client.get("/orders").status_code == 200
    with admin_connection(app) as admin:
        with backend_killed_at_next_statement(app, admin) as killed:
            response = client.get("/orders")

        assert killed, "the request sent no statement"
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert UNAVAILABLE in page
        assert "Please try again in a few seconds" in page
        assert "Traceback" not in page and "psycopg" not in page

        assert client.get("/orders").status_code == 200

        # A restarted server leaves every pooled connection dead: pre-ping replaces them.
        stale = [
            pid
            for (pid,) in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        ]
        db.commit()
        terminate_and_wait(admin, stale)
        assert client.get("/orders").status_code == 200


def test_a_dropped_connection_in_a_change_leaves_nothing_half_done(
    app, client, db, login, world, postgres
):
    from marketplace.ordering.models import Order
    from marketplace.ordering.states import OrderStatus

    order = world.submitted_order(db)
    db.commit()
    login(world.approver)
    engine = app.extensions["db_engine"]
    with admin_connection(app) as admin:
        armed = {"on": False}
        killed: list[int] = []

        def kill_at_update(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if armed["on"] and not killed and statement.lstrip().upper().startswith("UPDATE"):
                killed.append(conn.connection.dbapi_connection.info.backend_pid)
                terminate_and_wait(admin, killed)

        event.listen(engine, "before_cursor_execute", kill_at_update)
        try:
            armed["on"] = True
            response = client.post(f"/orders/{order.id}/approve")
        finally:
            event.remove(engine, "before_cursor_execute", kill_at_update)

    assert killed and response.status_code == 503
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.SUBMITTED
    assert client.post(f"/orders/{order.id}/approve").status_code == 302
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.APPROVED


def test_the_api_answers_a_dropped_connection_with_a_problem_document(
    app, client, db, world, postgres
):
    _token, secret = tokens.create_token(db, world.requester, "Outage test", list(ALL_SCOPES))
    db.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    with admin_connection(app) as admin, backend_killed_at_next_statement(app, admin):
        response = client.get("/api/v1/budget-lines", headers=headers)

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    problem = response.get_json()
    assert problem["status"] == 503 and problem["type"].endswith("service-unavailable")
    assert client.get("/api/v1/budget-lines", headers=headers).status_code == 200


def _fail_next_statement(app, error):  # type: ignore[no-untyped-def]
    engine = app.extensions["db_engine"]
    fired: list[bool] = []

    def fail(*args):  # type: ignore[no-untyped-def]
        if not fired:
            fired.append(True)
            raise error

    event.listen(engine, "before_cursor_execute", fail)
    return lambda: event.remove(engine, "before_cursor_execute", fail)


def test_an_operational_error_on_any_database_is_a_503_page(app, client, db, login, world):
    login(world.requester)
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    stop = _fail_next_statement(app, lost)
    try:
        response = client.get("/orders")
    finally:
        stop()

    assert response.status_code == 503
    assert UNAVAILABLE in response.get_data(as_text=True)
    assert client.get("/orders").status_code == 200


def test_a_broken_constraint_is_still_a_bug_not_an_outage(app, client, db, login, world):
    login(world.requester)
    broken = IntegrityError("INSERT", {}, Exception("duplicate key"))
    stop = _fail_next_statement(app, broken)
    try:
        with pytest.raises(IntegrityError):  # testing propagates what would be a 500
            client.get("/orders")
    finally:
        stop()

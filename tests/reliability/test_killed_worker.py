"""A worker process killed in the middle of an order transition leaves nothing half-written.

A child process runs the real app against the test database and performs the transition as
the person would; an engine hook stops it just before COMMIT, after every write of the
transaction. The test SIGKILLs it: the order, the ledger and budget totals, the audit trail,
the outbox, notifications and document numbers are as before; then the same transition works.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.reliability.commit_blocker import snapshot
from tests.support import PASSWORD

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def admin_connection(app) -> psycopg.Connection:  # type: ignore[no-untyped-def]
    url = make_url(app.config["DATABASE_URL"]).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def figures(admin: psycopg.Connection, order, line) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with admin.cursor() as cursor:
        return snapshot(cursor, order.id, line.id)


def kill_at_commit(app, tmp_path, admin, user, order, line, path, form):  # type: ignore[no-untyped-def]
    """Run the transition in a child process, SIGKILL it at COMMIT; what it had written."""
    arguments = {
        "database_url": app.config["DATABASE_URL"],
        "search_dir": str(tmp_path / "child-search"),
        "upload_dir": app.config["UPLOAD_DIR"],
        "email": user.email,
        "password": PASSWORD,
        "order_id": order.id,
        "line_id": line.id,
        "status_before": order.status.value,
        "path": path,
        "form": form,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.commit_blocker", json.dumps(arguments)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EORDER_ENV": "testing"},
    )
    try:
        line_out = child.stdout.readline()  # type: ignore[union-attr]
        if not line_out.startswith("ready "):
            child.kill()
            _out, errors = child.communicate()
            pytest.fail(f"the worker did not reach COMMIT: {line_out!r}\n{errors[-3000:]}")
        _ready, backend_pid, written = line_out.split(" ", 2)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    # The server notices the dead client and rolls its transaction back; wait for that.
    while admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (int(backend_pid),)
    ).fetchone()[0]:
        admin.execute("SELECT pg_sleep(0.01)")
    return json.loads(written)


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_an_approval_killed_at_commit_leaves_nothing_and_then_succeeds(
    app, client, db, login, world, tmp_path, postgres
):
    order = world.submitted_order(db)
    db.commit()
    with admin_connection(app) as admin:
        before = figures(admin, order, world.line)

        written = kill_at_commit(
            app,
            tmp_path,
            admin,
            world.approver,
            order,
            world.line,
            f"/orders/{order.id}/approve",
            {"version": str(order.version)},
        )

        # the transaction had done its work when it was killed ...
        assert written["order"] == f"approved v{order.version + 1}"
        assert {"order", "audit_events"} <= changed(before, written)
        assert written["ledger_mismatches"] == "0"
        # ... and none of it is in the database
        after_kill = figures(admin, order, world.line)
        assert after_kill == before
        assert after_kill["ledger_mismatches"] == "0"

        login(world.approver)
        response = client.post(f"/orders/{order.id}/approve", data={"version": order.version})
        assert response.status_code == 302
        again = figures(admin, order, world.line)
    # the same transition, now committed, writes what the killed one had written
    assert again == written
    print(f"\nkilled at commit: {sorted(changed(before, written))} written, 0 rows kept")


def test_a_receipt_killed_at_commit_issues_no_document_and_spends_nothing(
    app, client, db, login, world, tmp_path, postgres
):
    order = world.order_in(db, "delivered")
    receipts = {f"received-{line.id}": str(line.quantity) for line in order.lines}
    form = {**receipts, "version": str(order.version)}
    db.commit()
    with admin_connection(app) as admin:
        before = figures(admin, order, world.line)

        written = kill_at_commit(
            app,
            tmp_path,
            admin,
            world.approver,
            order,
            world.line,
            f"/orders/{order.id}/receive",
            form,
        )

        assert written["order"] == f"received v{order.version + 1}"
        expected = {"order", "budget_entries", "budget_line", "audit_events"}
        expected |= {"issued_documents", "document_numbers"}
        assert expected <= changed(before, written)
        after_kill = figures(admin, order, world.line)
        assert after_kill == before
        assert after_kill["ledger_mismatches"] == "0"

        login(world.approver)
        response = client.post(f"/orders/{order.id}/receive", data=form)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        again = figures(admin, order, world.line)
    # the numbers the killed receipt had taken are the ones issued now: no gap
    assert again == written
    print(f"\nkilled at commit: {sorted(changed(before, written))} written, 0 rows kept")

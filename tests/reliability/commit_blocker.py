"""A worker process that performs one transition through the app and stops just before COMMIT.

Run as `python -m tests.reliability.commit_blocker '<json>'` by the kill tests. It logs in as
the given person, then sends one POST. When the transaction that changed the order is about to
commit, it prints "ready <backend pid> <what the transaction wrote, as JSON>" and sleeps, for
the test to SIGKILL it. If the request ends without that commit it prints "finished <status>".
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from sqlalchemy import event

#: what the kill tests compare, each one a query over the whole database or one order
SNAPSHOT_QUERIES = {
    "order": "SELECT status || ' v' || version FROM orders WHERE id = %(order)s",
    "budget_entries": "SELECT count(*) FROM budget_entries",
    "budget_line": "SELECT allocation || '/' || committed || '/' || spent FROM budget_lines"
    " WHERE id = %(line)s",
    "audit_events": "SELECT count(*) FROM audit_events",
    "outbox_messages": "SELECT count(*) FROM outbox_messages",
    "notifications": "SELECT count(*) FROM notifications",
    "issued_documents": "SELECT count(*) FROM issued_documents",
    "document_numbers": "SELECT coalesce(sum(last_number), 0) FROM document_counters",
}
#: every budget line's totals agree with its ledger, and nothing is overspent
LEDGER_MISMATCHES = """
SELECT count(*) FROM budget_lines l LEFT JOIN (
  SELECT budget_line_id,
    sum(CASE kind WHEN 'allocate' THEN amount WHEN 'reduce' THEN -amount ELSE 0 END) AS allocation,
    sum(CASE kind WHEN 'commit' THEN amount WHEN 'release' THEN -amount
                  WHEN 'spend' THEN -amount ELSE 0 END) AS committed,
    sum(CASE kind WHEN 'spend' THEN amount WHEN 'refund' THEN -amount ELSE 0 END) AS spent
  FROM budget_entries GROUP BY budget_line_id
) e ON e.budget_line_id = l.id
WHERE l.allocation <> coalesce(e.allocation, 0) OR l.committed <> coalesce(e.committed, 0)
   OR l.spent <> coalesce(e.spent, 0) OR l.allocation - l.committed - l.spent < 0
"""


def snapshot(cursor: Any, order_id: int, line_id: int) -> dict[str, str]:
    """The compared figures, read through a DBAPI cursor (inside or outside a transaction)."""
    values = {}
    for name, sql in SNAPSHOT_QUERIES.items():
        cursor.execute(sql, {"order": order_id, "line": line_id})
        values[name] = str(cursor.fetchone()[0])
    cursor.execute(LEDGER_MISMATCHES)
    values["ledger_mismatches"] = str(cursor.fetchone()[0])
    return values


def main(arguments: dict[str, Any]) -> int:
    from marketplace import create_app
    from marketplace.config import TestingConfig

    class Config(TestingConfig):
        DATABASE_URL = arguments["database_url"]
        SEARCH_INDEX_DIR = arguments["search_dir"]
        UPLOAD_DIR = arguments["upload_dir"]
        WTF_CSRF_ENABLED = False

    app = create_app(Config)
    client = app.test_client()
    with client.session_transaction() as session:
        session["lang"] = "en"
    login = client.post(
        "/login", data={"email": arguments["email"], "password": arguments["password"]}
    )
    if login.status_code != 302:
        print(f"login failed {login.status_code}", flush=True)
        return 1
    order_id, line_id = arguments["order_id"], arguments["line_id"]
    status_before = arguments["status_before"]

    def stop_before_commit(conn: Any) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT status FROM orders WHERE id = %s", (order_id,))
            if cursor.fetchone()[0] == status_before:
                return  # another transaction of the request (a session touch, a log-in)
            written = snapshot(cursor, order_id, line_id)
        pid = dbapi_connection.info.backend_pid
        print(f"ready {pid} {json.dumps(written)}", flush=True)
        while True:
            time.sleep(60)

    event.listen(app.extensions["db_engine"], "commit", stop_before_commit)
    response = client.post(arguments["path"], data=arguments["form"])
    print(f"finished {response.status_code}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))

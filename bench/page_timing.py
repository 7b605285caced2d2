"""Time pages one request at a time, in-process, with their SQL statements.

    .venv/bin/python bench/page_timing.py DATABASE.sqlite|DATABASE_URL EMAIL PATH [PATH ...]
    .venv/bin/python bench/page_timing.py /tmp/bench-province/province-full.sqlite \
        finance@bench.go.id /finance/ /finance/exceptions /finance/reconcile

Signs in as EMAIL (password of bench/province.py), opens each PATH twice through the Flask
test client and prints, for the second request, the time, the number of SQL statements, the
time spent in them and the slowest statements. Use a copy of the database: migrating it or
refreshing its statistics changes the file. EORDER_SEARCH_INDEX_DIR points at the search
index for catalogue pages.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from bench.province import PASSWORD
from marketplace import create_app
from marketplace.config import DevelopmentConfig


def main(database: str, email: str, paths: list[str]) -> int:
    class Config(DevelopmentConfig):
        DATABASE_URL = database if "://" in database else f"sqlite:///{database}"
        SEARCH_INDEX_DIR = os.environ.get(
            "EORDER_SEARCH_INDEX_DIR", str(Path(database).with_suffix(".index"))
        )
        RATELIMIT_ENABLED = False
        WTF_CSRF_ENABLED = False

    app = create_app(Config)
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    statements: dict[str, list[float]] = {}

    def before(conn, _cursor, _statement, *_args) -> None:  # type: ignore[no-untyped-def]
        conn.info["started"] = time.perf_counter()

    def after(conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.setdefault(statement[:100], []).append(
            time.perf_counter() - conn.info["started"]
        )

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    for path in paths:
        client.get(path)  # the first request fills caches
        statements.clear()
        started = time.perf_counter()
        status = client.get(path).status_code
        elapsed = time.perf_counter() - started
        in_sql = sum(sum(times) for times in statements.values())
        count = sum(len(times) for times in statements.values())
        print(
            f"{path}: {status}, {elapsed * 1000:.0f} ms, {count} statements, "
            f"{in_sql * 1000:.0f} ms in SQL"
        )
        slowest = sorted(statements.items(), key=lambda item: -sum(item[1]))[:5]
        for statement, times in slowest:
            print(f"  {len(times):4d} x {sum(times) * 1000:8.1f} ms  {' '.join(statement.split())}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        print(__doc__)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))

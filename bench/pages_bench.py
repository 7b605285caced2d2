"""Page benchmark at provincial scale: the main pages under wrk against gunicorn, next to the
app's minimal route, on a data set made by bench/province.py.

Serves the app with gunicorn (sync workers, `--no-control-socket`) on 127.0.0.1, logs in once
per role through /login, and drives each page with wrk at 16 connections for a fixed time: the
catalogue listing, the search page (a different query and filters on each request), a product
page (a different product on each request), the approver's queue of the busiest agency and the
finance pages (overview, reconciliation, exceptions), with GET /healthz measured in the same
run before and after. Prints per page requests per second, p50 and p99, the ratio to /healthz
and PASS or FAIL against the goals of issue 10, and the finance pages' latency one request at
a time. Order submission is measured by bench/order_bench.py (`--orders`).

    .venv/bin/python bench/province.py --db sqlite [--scale 0.05]      # the data set first
    .venv/bin/python bench/pages_bench.py --db sqlite [--scale 0.05] [--seconds 20]
    .venv/bin/python bench/pages_bench.py --db postgres --orders        # + order_bench.py
    .venv/bin/python bench/pages_bench.py --db sqlite --profile 20      # no server: cProfile

--profile runs no server: it requests each page N times in-process through the Flask test
client under cProfile and counts and times the SQL statements of each page.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    ROOT,
    HttpClient,
    TestClient,
    cpu_by_role,
    free_port,
    load_average,
    log_in,
    percentile,
    start_gunicorn,
    stop,
    wait_until_idle,
    wait_until_up,
)
from province import PASSWORD, WORK_DIR, database_url, index_dir
from search_bench import generate_queries

#: (name, role whose session it uses, goal kind)
PAGES = (
    ("catalogue", "requester", "listing"),
    ("search", "requester", "listing"),
    ("product", "requester", None),
    ("approvals", "approver", None),
    ("finance overview", "finance", "finance"),
    ("finance reconcile", "finance", "finance"),
    ("finance exceptions", "finance", "finance"),
)
FINANCE_PATHS = {
    "finance overview": "/finance/",
    "finance reconcile": "/finance/reconcile",
    "finance exceptions": "/finance/exceptions",
}
#: issue 10: listing pages' share of the minimal route's throughput, and their p99
LISTING_RATIO = {"sqlite": 0.35, "postgres": 0.25}
LISTING_P99_MS = 100.0
FINANCE_MS = 500.0
#: the session is bound to the browser: wrk sends the same User-Agent as the client that logged in
USER_AGENT = "e-order-pages-bench"
FACETS = ("category=nasi-box", "tag=halal", "category=snack-box", "price=", "tag=no_seafood", "")

LUA = r"""
local paths = {%(paths)s}
local headers = {["Cookie"] = "%(cookie)s", ["User-Agent"] = "%(agent)s"}
local counter = 0
not_ok = 0
local threads = {}
function setup(thread)
  thread:set("offset", math.random(0, #paths - 1))
  table.insert(threads, thread)
end
function init(args)
  counter = tonumber(offset) or 0
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], headers)
end
function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end
function done(summary, latency, requests)
  local others = 0
  for _, thread in ipairs(threads) do
    others = others + (thread:get("not_ok") or 0)
  end
  io.write(string.format(
    "RESULT {\"requests\": %%d, \"duration_us\": %%d, \"p50_us\": %%d, \"p99_us\": %%d,"
    .. " \"max_us\": %%d, \"not_200\": %%d, \"socket_errors\": %%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, others,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Figures:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    #: CPU milliseconds per request: the app's workers, PostgreSQL's backends, wrk
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def cpu_text(self) -> str:
        return ", ".join(f"{role} {ms:.2f}" for role, ms in self.cpu_ms.items())


# What to request ------------------------------------------------------------------------


def world_facts(url: str) -> dict[str, Any]:
    """Ids and logins the pages need, read from the data set."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        busiest = conn.execute(
            text(
                "SELECT agency_id, count(*) FROM orders WHERE status = 'submitted'"
                " GROUP BY agency_id ORDER BY count(*) DESC, agency_id LIMIT 1"
            )
        ).one()
        orders = conn.execute(
            text("SELECT count(*) FROM orders WHERE agency_id = :a"), {"a": busiest[0]}
        ).scalar()
        product_ids = [row[0] for row in conn.execute(text("SELECT id FROM products ORDER BY id"))]
        counts = {
            name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar()  # noqa: S608
            for name in ("orders", "products", "vendors", "agencies")
        }
    engine.dispose()
    return {
        "agency_id": busiest[0],
        "waiting": busiest[1],
        "agency_orders": orders,
        "product_ids": product_ids,
        "counts": counts,
    }


def page_paths(name: str, facts: dict[str, Any], count: int = 400) -> list[str]:
    rng = random.Random(name)  # noqa: S311 - the same requests in every run
    if name == "catalogue":
        return ["/catalog/"] + [f"/catalog/?page={n}" for n in (2, 3)]
    if name == "search":
        paths = []
        for _kind, text in generate_queries(count):
            facet = rng.choice(FACETS)
            query = "q=" + text.replace(" ", "+")
            paths.append(f"/catalog/?{query}&{facet}" if facet else f"/catalog/?{query}")
        return paths
    if name == "product":
        return [f"/catalog/products/{i}" for i in rng.sample(facts["product_ids"], count)]
    if name == "approvals":
        return ["/approvals"]
    if name == "healthz":
        return ["/healthz"]
    return [FINANCE_PATHS[name]]


def logins(facts: dict[str, Any]) -> dict[str, str]:
    agency = facts["agency_id"]
    return {
        "requester": f"requester1@a{agency}.bench.go.id",
        "approver": f"approver@a{agency}.bench.go.id",
        "finance": "finance@bench.go.id",
    }


# wrk -----------------------------------------------------------------------------------


def run_wrk(
    base: str,
    name: str,
    paths: list[str],
    cookie: str,
    seconds: float,
    connections: int,
    server_pid: int | None = None,
    pg_database: str | None = None,
) -> Figures:
    """wrk on `paths` in turn; with `server_pid`, the CPU it cost per request is counted too:
    gunicorn and its workers, the PostgreSQL backends of `pg_database`, and wrk itself."""
    script = LUA % {
        "paths": ", ".join(json.dumps(p) for p in paths),
        "cookie": cookie.replace('"', '\\"'),
        "agent": USER_AGENT,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    before = cpu_by_role(server_pid, pg_database) if server_pid else {}
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(  # noqa: S603
            [  # noqa: S607 (wrk from the system's packages)
                "wrk",
                "--threads",
                "2",
                "--connections",
                str(connections),
                "--duration",
                f"{seconds:g}s",
                "--timeout",
                "30s",
                "--script",
                file.name,
                base,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(file.name)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = cpu_by_role(server_pid, pg_database) if server_pid else {}
    match = re.search(r"^RESULT (\{.*\})$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    data = json.loads(match.group(1))
    cpu = {"app": after.get("app", 0.0) - before.get("app", 0.0)}
    if pg_database:
        cpu["PostgreSQL"] = after["PostgreSQL"] - before["PostgreSQL"]
    cpu["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    requests = max(data["requests"], 1)
    return Figures(
        name,
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["max_us"] / 1000,
        data["not_200"] + data["socket_errors"],
        {role: used * 1000 / requests for role, used in cpu.items()} if server_pid else {},
    )


def check_page(client: HttpClient, path: str) -> None:
    reply = client.get(path)
    if reply.status != 200:
        raise RuntimeError(f"{path} answered {reply.status} {reply.location}")


def single_requests(client: HttpClient, path: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        check_page(client, path)
        times.append((time.perf_counter() - started) * 1000)
    return times


def verdict(name: str, kind: str | None, figures: Figures, health: float, db: str) -> str:
    if kind == "listing":
        ratio_goal = LISTING_RATIO[db]
        ok = figures.rate / health >= ratio_goal and figures.p99_ms < LISTING_P99_MS
        return (
            f"{'PASS' if ok else 'FAIL'} (>= {ratio_goal:.0%} of /healthz,"
            f" p99 < {LISTING_P99_MS:.0f} ms)"
        )
    return "(no goal under load)"


def served_data(args: argparse.Namespace) -> tuple[str, Path]:
    """The database URL and search index the app serves: the data set's own, or with `--copy`
    (SQLite) copies of them, so that the run's logins leave the data set as it was."""
    url, index = database_url(args.db, args.scale), index_dir(args.db, args.scale)
    if not args.copy or args.db != "sqlite":
        return url, index
    copy = Path(tempfile.mkdtemp(prefix="pages-copy-", dir=WORK_DIR))
    database = Path(url.removeprefix("sqlite:///"))
    shutil.copyfile(database, copy / database.name)
    shutil.copytree(index, copy / index.name)
    args.cleanup.append(copy)
    print(f"serving copies in {copy}")
    return f"sqlite:///{copy / database.name}", copy / index.name


def http_benchmark(args: argparse.Namespace) -> int:
    url, search_index = served_data(args)
    facts = world_facts(url)
    print(
        f"data set: {url} ({facts['counts']['orders']:,} orders,"
        f" {facts['counts']['products']:,} products, {facts['counts']['vendors']:,} vendors,"
        f" {facts['counts']['agencies']:,} agencies); approver's queue of agency"
        f" {facts['agency_id']} ({facts['agency_orders']:,} orders, {facts['waiting']} waiting)"
    )
    tmp = Path(tempfile.mkdtemp(prefix="pages-bench-", dir=WORK_DIR))
    pg_database = url.rsplit("/", 1)[1] if args.db == "postgres" else None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gunicorn(
        url,
        port,
        args.workers,
        search_index_dir=search_index,
        upload_dir=tmp / "uploads",
        error_log=tmp / "gunicorn.log",
        timeout=args.worker_timeout,
    )
    results: list[tuple[str, str | None, Figures]] = []
    singles: dict[str, list[float]] = {}
    try:
        wait_until_up(base, server)
        print(f"gunicorn: {args.workers} sync workers on {base}; load average {load_average()}")
        clients = {}
        for role, email in logins(facts).items():
            clients[role] = HttpClient(base, timeout=args.worker_timeout)
            clients[role].session.headers["User-Agent"] = USER_AGENT
            log_in(clients[role], email, PASSWORD)
        selected = [p for p in PAGES if not args.pages or p[0] in args.pages]
        for name, role, kind in selected:
            if kind != "finance":  # the finance pages are checked one at a time below
                for path in page_paths(name, facts)[:3]:
                    check_page(clients[role], path)  # a wrong answer fails now, not in wrk
        measured = {"server_pid": server.pid, "pg_database": pg_database}
        health_before = run_wrk(
            base, "healthz", ["/healthz"], "", args.seconds, args.connections, **measured
        )
        print(f"  {'GET /healthz':<22}{health_before.rate:8.1f} req/s", flush=True)
        for name, role, kind in selected:
            paths = page_paths(name, facts)
            cookie = clients[role].cookie_header()
            if kind == "finance":
                # The goal is one request at a time; under load only when that is quick.
                singles[name] = single_requests(clients[role], paths[0], args.single)
                print(
                    f"  {name:<22}one at a time: median {percentile(singles[name], 50):.0f} ms",
                    flush=True,
                )
                if percentile(singles[name], 50) > args.finance_load_limit_ms:
                    continue
            if kind == "listing":
                # Steady state: each query's results rendered once on this node (the first
                # time costs a search and a render; see "Catalogue and search pages, cached").
                started = time.perf_counter()
                for path in paths:
                    check_page(clients[role], path)
                print(
                    f"  {name:<22}{len(paths)} queries asked once first,"
                    f" {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
            # Every worker reads the search index's columns once: not part of the figure.
            run_wrk(base, name, paths, cookie, min(3, args.seconds), args.connections)
            wait_until_idle(base)
            figures = run_wrk(base, name, paths, cookie, args.seconds, args.connections, **measured)
            waited = wait_until_idle(base)
            results.append((name, kind, figures))
            print(
                f"  {name:<22}{figures.rate:8.1f} req/s  p50 {figures.p50_ms:7.1f}"
                f"  p99 {figures.p99_ms:7.1f} ms"
                + (f"  (server busy {waited:.0f} s after wrk stopped)" if waited > 1 else ""),
                flush=True,
            )
        health_after = run_wrk(
            base, "healthz", ["/healthz"], "", args.seconds, args.connections, **measured
        )
    finally:
        stop(server)
    log = (tmp / "gunicorn.log").read_text(errors="replace")
    shutil.rmtree(tmp, ignore_errors=True)
    health = (health_before.rate + health_after.rate) / 2
    print()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')}, {args.db}, scale {args.scale:g},"
        f" {args.connections} connections, {args.seconds:g} s per page,"
        f" gunicorn {args.workers} sync workers; load average after: {load_average()}"
    )
    print(f"{'page':<22}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>7}  goal")
    for figures in (health_before, health_after):
        print(
            f"{'/healthz':<22}{figures.rate:8.1f}{figures.p50_ms:9.1f}{figures.p99_ms:9.1f}"
            f"{figures.rate / health:7.2f}"
        )
    for name, kind, figures in results:
        errors = f"  ({figures.errors} errors)" if figures.errors else ""
        print(
            f"{name:<22}{figures.rate:8.1f}{figures.p50_ms:9.1f}{figures.p99_ms:9.1f}"
            f"{figures.rate / health:7.3f}  {verdict(name, kind, figures, health, args.db)}{errors}"
        )
    print("CPU per request, ms (machine: 2 cores; the app's workers, the database, wrk):")
    for figures in (health_before, *(f for _, _, f in results), health_after):
        print(f"  {figures.name:<20}{figures.cpu_text()}")
    if singles:
        print(
            f"finance pages one request at a time ({args.single} requests, goal < 500 ms;"
            f" under load only when the median is under {args.finance_load_limit_ms:g} ms):"
        )
        for name, times in singles.items():
            ok = percentile(times, 50) < FINANCE_MS
            print(
                f"  {name:<22} median {percentile(times, 50):7.1f} ms, max {max(times):7.1f} ms"
                f"  {'PASS' if ok else 'FAIL'}"
            )
    if "Traceback" in log:
        print("the gunicorn log shows errors:", log[-3000:], sep="\n")
        return 1
    if args.orders:
        return order_submission(args)
    return 0


def order_submission(args: argparse.Namespace) -> int:
    """Order submission through bench/order_bench.py (PostgreSQL, its own database)."""
    print("\norder submission (bench/order_bench.py, PostgreSQL):", flush=True)
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(ROOT / "bench/order_bench.py"),
            "--max-seconds",
            str(args.order_seconds),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    print(done.stdout)
    return done.returncode


# In-process profile -----------------------------------------------------------------------


def profile(args: argparse.Namespace) -> int:
    from order_bench import own_time_by_package
    from sqlalchemy import event

    from marketplace import create_app

    url, search_index = served_data(args)
    facts = world_facts(url)
    tmp = Path(tempfile.mkdtemp(prefix="pages-profile-", dir=WORK_DIR))
    app = create_app(
        {
            "DATABASE_URL": url,
            "SEARCH_INDEX_DIR": str(search_index),
            "UPLOAD_DIR": str(tmp / "uploads"),
            "SECRET_KEY": "profile-only",
        }
    )
    engine = app.extensions["db_engine"]
    statements: list[list[Any]] = []
    counting = [False]

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if counting[0]:
            statements.append([statement, time.perf_counter()])

    def after(_conn: Any, _cursor: Any, _statement: str, *_rest: Any) -> None:
        if counting[0]:
            statements[-1][1] = time.perf_counter() - statements[-1][1]

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    clients = {}
    for role, email in logins(facts).items():
        clients[role] = TestClient(app)
        log_in(clients[role], email, PASSWORD)
    selected = [p for p in PAGES if not args.pages or p[0] in args.pages]
    for name, role, _kind in selected:
        paths = page_paths(name, facts)
        client = clients[role]
        for path in paths[:2]:  # warm: the search index's columns, caches
            client.get(path)
        statements.clear()
        profiler = cProfile.Profile()
        times = []
        for n in range(args.profile):
            path = paths[n % len(paths)]
            counting[0] = True
            started = time.perf_counter()
            profiler.enable()
            reply = client.get(path)
            profiler.disable()
            times.append((time.perf_counter() - started) * 1000)
            counting[0] = False
            if reply.status != 200:
                raise RuntimeError(f"{path} answered {reply.status}")
        n = args.profile
        sql_ms = sum(elapsed for _, elapsed in statements) * 1000 / n
        print(
            f"\n=== {name}: {percentile(times, 50):.1f} ms p50 in-process (profiled),"
            f" {len(statements) / n:.1f} SQL statements, {sql_ms:.1f} ms in the database"
            " per request"
        )
        slowest: dict[str, list[float]] = {}
        for sql, elapsed in statements:
            key = " ".join(sql.split())[:160]
            slot = slowest.setdefault(key, [0, 0.0])
            slot[0] += 1
            slot[1] += elapsed
        print("  SQL per request, by statement (count, ms):")
        for sql, (count, elapsed) in sorted(slowest.items(), key=lambda i: -i[1][1])[:6]:
            print(f"    {count / n:6.1f} {elapsed * 1000 / n:8.2f}  {sql}")
        print("  own time per request by package (cProfile, inflated):")
        for package, seconds in own_time_by_package(pstats.Stats(profiler)).most_common(8):
            print(f"    {seconds * 1000 / n:8.2f} ms  {package}")
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"/work/main/(marketplace|catalog)/", 18)
        text = out.getvalue()
        print("\n".join(line for line in text.splitlines() if re.match(r"\s+\d", line)))
    engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="wrk time per page")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--single", type=int, default=5, help="finance requests one at a time")
    parser.add_argument("--pages", nargs="*", help="only these pages (names as printed)")
    parser.add_argument("--worker-timeout", type=int, default=120, help="gunicorn --timeout")
    parser.add_argument("--finance-load-limit-ms", type=float, default=2000.0)
    parser.add_argument("--orders", action="store_true", help="also run order_bench.py")
    parser.add_argument("--order-seconds", type=float, default=60.0)
    parser.add_argument("--profile", type=int, default=0, help="profile N requests per page")
    parser.add_argument(
        "--copy", action="store_true", help="serve copies of the SQLite data set and its index"
    )
    args = parser.parse_args()
    args.cleanup = []
    # Stop gunicorn on the way out when the run is stopped (as for Ctrl-C).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.profile:
            return profile(args)
        return http_benchmark(args)
    finally:
        for copy in args.cleanup:
            shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

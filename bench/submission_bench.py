"""Order submission benchmark with the carts already filled: only the submissions are timed.

`order_bench.py` times the whole round of one requester (add to cart, read the cart page,
submit), three requests per order. This one times what the issue's goal names, the submission:
K + extra requesters of one agency (K = the orders its one budget line can pay) each have one
order of 10 boxes in the cart and have read their cart page (the form, its CSRF token and the
order id) before the clock starts, as people do before they press "Submit for approval". wrk
then posts the K + extra checkout forms over 16 connections, each form once (bench/
submissions.lua), so that the last ones meet an empty line and are refused.

The carts come from `--vendors` vendors in turn and ask for `--days` delivery dates in turn
(50 and 14: a few orders per agency, vendor and day, as in the provincial data set). With
`--vendors 1 --days 1` every order is in one split-purchase group, the worst case for that
check, which sums the group's orders on every submission.

Same database, data, server and ledger checks as order_bench.py (whose functions it uses):
PostgreSQL database `eorder_ord_bench`, gunicorn with sync workers (as many as cores by
default: PostgreSQL runs on the same cores, and more workers made each submission cost more
CPU; `--workers` to compare), the budget line's ledger read back from the database at the
end (exit status 1 when it does not add up). Also prints /health under wrk with the same
connections, and the CPU time the app, PostgreSQL and wrk used per checkout POST.

    .venv/bin/python bench/submission_bench.py [--orders 2000] [--extra 200] [--workers 2]

The requesters' passwords are stored with a cheap PBKDF2 (1,000 rounds) and the log-in limits
are raised for this server, so that preparing 2,200 sessions takes seconds; log-in is not
measured. The carts are filled in-process through the ordering service.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent))

import order_bench as ob
from harness import HttpClient, csrf_token, free_port, percentile, stop
from pages_bench import run_wrk

HERE = Path(__file__).resolve().parent
#: the session is bound to the browser: wrk sends the User-Agent of the client that logged in
USER_AGENT = "e-order-submission-bench"
#: enough log-ins from 127.0.0.1 for every requester (the defaults allow 30 a minute)
SERVER_ENV = {
    "EORDER_LOGIN_RATE_LIMIT": "100000 per minute",
    "EORDER_LOGIN_IP_RATE_LIMIT": "100000 per minute",
}


def fill_carts(app: object, world: ob.World) -> None:
    """One order of QUANTITY boxes in every requester's cart, from the vendors in turn."""
    from sqlalchemy import select

    from catalog.models import Product
    from marketplace import db
    from marketplace.accounts.models import User
    from marketplace.ordering import services

    with app.app_context():  # type: ignore[attr-defined]
        session = db.get_session()
        products = [session.get(Product, id_) for id_ in world.product_ids]
        users = session.scalars(
            select(User).where(User.email.in_(world.emails)).order_by(User.id)
        ).all()
        for number, user in enumerate(users, 1):
            services.add_to_cart(session, user, products[(number - 1) % len(products)], ob.QUANTITY)
            if number % 250 == 0:
                session.commit()
        session.commit()
    app.extensions["db_engine"].dispose()  # type: ignore[attr-defined]


def delivery_dates(days: int) -> list[str]:
    """Up to `days` delivery dates from the day after tomorrow (Jakarta) to the end of the
    fiscal year, the budget line's."""
    today = datetime.now(ob.JAKARTA).date()
    dates = [today + timedelta(days=2 + n) for n in range(days)]
    within = [day.isoformat() for day in dates if day.year == today.year]
    if not within:
        raise SystemExit("the fiscal year ends in less than two days: run it in the new year")
    return within


def prepare_forms(
    base: str, world: ob.World, connections: int, out: Path, days: list[str]
) -> float:
    """Log every requester in, read their cart page and write their filled-in checkout form
    for wrk: submissions-<i>.txt for connection i. Returns the seconds it took."""
    started = time.perf_counter()
    per_connection: list[list[str]] = [[] for _ in range(connections)]
    defaults: dict[str, str] = {}
    lock = threading.Lock()

    def prepare(index: int) -> None:
        for number in range(index, len(world.emails), connections):
            client = HttpClient(base)
            client.session.headers["User-Agent"] = USER_AGENT
            ob.log_in(client, world.emails[number])
            page = client.get("/cart").text
            match = ob.ORDER_IDS_RE.search(page)
            if match is None or not match.group(1):
                raise RuntimeError(f"{world.emails[number]} has nothing in the cart")
            with lock:
                if not defaults:  # the same fields for everybody
                    defaults.update(ob.checkout_defaults(page))
            form = ob.checkout_form(defaults, csrf_token(page), match.group(1), world.line_id)
            form["delivery_date"] = days[number % len(days)]
            per_connection[index].append(f"{client.cookie_header()}\t{urlencode(form)}")

    ob.run_threads(connections, prepare)
    for index, lines in enumerate(per_connection):
        (out / f"submissions-{index}.txt").write_text("\n".join(lines) + "\n")
    return time.perf_counter() - started


def submit_all(
    base: str, out: Path, connections: int, max_seconds: float
) -> tuple[list[tuple[str, float, float]], float, int]:
    """wrk posts every prepared form once; returns (outcome, sent, answered) per submission,
    the CPU seconds wrk used, and the /health requests of connections that were done."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk = subprocess.Popen(  # noqa: S603
        [  # noqa: S607 (wrk from the system's packages)
            "wrk",
            "--threads",
            str(connections),
            "--connections",
            str(connections),
            "--duration",
            f"{max_seconds + 5:g}s",
            "--timeout",
            "60s",
            "--script",
            str(HERE / "submissions.lua"),
            base,
            "--",
            str(out),
            USER_AGENT,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + max_seconds
    results = [out / f"results-{index}.txt" for index in range(connections)]
    while time.monotonic() < deadline and not all(path.exists() for path in results):
        if wrk.poll() is not None:
            break
        time.sleep(0.05)
    if wrk.poll() is None:
        wrk.send_signal(signal.SIGINT)  # wrk waits out --duration otherwise
    output, _ = wrk.communicate(timeout=30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    answers = []
    for path in results:
        if not path.exists():
            missing = [p.name for p in results if not p.exists()]
            raise RuntimeError(f"wrk did not write {missing} in {max_seconds:g} s:\n{output}")
        for line in path.read_text().splitlines():
            outcome, sent, answered = line.split("\t")
            answers.append((outcome, float(sent), float(answered)))
    wrk_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    tail = re.search(r"^HEALTH_TAIL (\d+)$", output, re.MULTILINE)
    return answers, wrk_cpu, int(tail.group(1)) if tail else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="K: orders the line can pay")
    parser.add_argument("--extra", type=int, default=200, help="submissions tried beyond K")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--vendors", type=int, default=50, help="the carts' vendors, in turn")
    parser.add_argument("--days", type=int, default=14, help="delivery dates, in turn")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--health-seconds", type=float, default=5.0)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    requesters = args.orders + args.extra
    if requesters < args.connections:
        parser.error("fewer submissions than connections")

    from marketplace import create_app

    with tempfile.TemporaryDirectory(prefix="submission-bench-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        ob.create_database()
        try:
            app = create_app(ob.app_config(tmp))
            cheap = generate_password_hash(ob.PASSWORD, method="pbkdf2:sha256:1000")
            world = ob.build_world(
                app, requesters, args.orders, password_hash=cheap, vendors=args.vendors
            )
            fill_carts(app, world)
            print(
                f"database {ob.DB_NAME} migrated and filled in"
                f" {time.perf_counter() - started:.1f} s: {requesters} requesters of one agency"
                f" with one order of Rp {ob.ORDER_TOTAL:,} in the cart each (from {args.vendors}"
                f" vendors in turn, for {args.days} delivery dates in turn), one budget line of"
                f" Rp {world.allocation:,} = {args.orders} orders"
            )
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = ob.start_gunicorn(tmp, port, args.workers, SERVER_ENV)
            try:
                ob.wait_until_up(base, server)
                print(f"gunicorn: {args.workers} sync workers on {base}")
                days = delivery_dates(args.days)
                seconds = prepare_forms(base, world, args.connections, tmp, days)
                print(f"{requesters} requesters logged in and read their cart in {seconds:.1f} s")
                health = run_wrk(
                    base,
                    "/health",
                    ["/health"],
                    "",
                    args.health_seconds,
                    args.connections,
                    server.pid,
                    ob.DB_NAME,
                )
                cpu_before = ob.cpu_by_role(server.pid)
                with ob.LockSampler() as locks:
                    answers, wrk_cpu, tail = submit_all(
                        base, tmp, args.connections, args.max_seconds
                    )
                cpu_used = ob.cpu_by_role(server.pid) - cpu_before
            finally:
                stop(server)
            log = (tmp / "gunicorn.log").read_text(errors="replace").splitlines()
            if any("[CRITICAL]" in line or "Traceback" in line for line in log):
                print("server errors; the end of the gunicorn log:", *log[-30:], sep="\n")
            cpu_used["wrk"] = wrk_cpu
            del cpu_used["clients"]  # this process only waited
            outcomes = Counter(outcome for outcome, _, _ in answers)
            successes = outcomes["submitted"]
            first_sent = min(sent for _, sent, _ in answers)
            last_answer = max(answered for _, _, answered in answers)
            wall = last_answer - first_sent
            success_at = [
                answered - first_sent for outcome, _, answered in answers if outcome == "submitted"
            ]
            health_rate = health.requests / health.seconds
            rate = successes / max(success_at, default=wall)
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"load average after the run (1, 5, 15 min): {load}, {os.cpu_count()} cores")
            print()
            print(f"GET /health, wrk, {args.connections} connections, {health.seconds:.1f} s:")
            print(
                f"  {health_rate:,.0f} requests/s, p50 {health.p50_ms:.1f} ms,"
                f" p99 {health.p99_ms:.1f} ms"
            )
            print(
                "  CPU per request: "
                + ", ".join(f"{role} {ms:.2f} ms" for role, ms in health.cpu_ms.items())
            )
            print()
            print(f"order submission, wrk, {args.connections} connections, {wall:.1f} s:")
            print(f"  {len(answers)} checkout forms posted, each once")
            print(f"  {successes} submitted, {outcomes['refused']} refused for insufficient budget")
            for outcome, count in outcomes.items():
                if outcome not in ("submitted", "refused"):
                    print(f"  {count} other answers: {outcome}")
            print(
                f"  {rate:.1f} orders/s until the last success ({max(success_at, default=0):.1f} s;"
                f" {rate / health_rate:.1%} of /health), {len(answers) / wall:.1f} answers/s"
                " in all"
            )
            windows = Counter(int(at // 5) for at in success_at)
            if success_at and max(success_at) >= 5:
                by_window = ", ".join(
                    f"{windows[w] / 5:.1f}" for w in range(int(max(success_at) // 5))
                )
                print(f"  orders/s in successive 5-s windows: {by_window}")
            ob.print_cpu(cpu_used, wall, len(answers), "checkout POST")
            print(
                f"  (the CPU includes {tail} GET /health of connections done before the others,"
                f" about {health.cpu_ms.get('app', 0) * tail / 1000:.1f} s of the app's)"
            )
            if locks.samples:
                print(f"  {locks.summary()}")
            latencies = {
                kind: [(answered - sent) * 1000 for o, sent, answered in answers if o == kind]
                for kind in ("submitted", "refused")
            }
            print(ob.latency_row("checkout POST, all", [(a - s) * 1000 for _, s, a in answers]))
            print(ob.latency_row("checkout POST, submitted", latencies["submitted"]))
            print(ob.latency_row("checkout POST, refused", latencies["refused"]))
            print()
            print("ledger, read from the database:")
            failures = ob.check_ledger(world, successes, args.orders)
            if successes != min(args.orders, len(answers)):
                failures.append("successes")
                print(f"  [FAILED] {successes} successes for K = {args.orders}")
        finally:
            if args.keep_db:
                print(f"kept database {ob.DB_NAME}")
            else:
                ob.drop_database()
    unexpected = set(outcomes) - {"submitted", "refused"}
    if failures or unexpected:
        print("FAILED: the ledger does not add up" if failures else "FAILED: unexpected answers")
        return 1
    print(
        f"goal (issue 10): at least 100 orders/s with no overspend: {rate:.1f} orders/s"
        f" ({percentile(latencies['submitted'], 99):.0f} ms p99)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Order submission benchmark: checkout over HTTP on PostgreSQL with 16 concurrent clients.

Creates a fresh PostgreSQL database, migrates it, and sets up one agency with 16 requesters
(one per client), one verified vendor without a capacity limit and one approved product, and
one budget line whose allocation fits exactly K orders. Serves the app with gunicorn (sync
workers) on 127.0.0.1; each client logs in once through /login, then repeatedly adds the
product to its cart, reads the cart page and submits the checkout form, until K + 200
submissions were attempted or the time is up, so that the last ones meet an empty line. Prints
submissions per second, checkout latency, successes and refusals, the same clients' requests
per second on GET /health, and checks the ledger straight from the database (exit status 1 when
it does not add up). It also shows the CPU time the app, PostgreSQL and the clients used per
request, and how many of the app's PostgreSQL backends waited for a lock (sampled every 100 ms).
The database is dropped at the end.

    .venv/bin/python bench/order_bench.py [--orders 2000] [--extra 200] [--max-seconds 60]
    .venv/bin/python bench/order_bench.py --profile 50 [--profile-after 500]

--profile runs no server: it submits --profile-after orders in-process through the Flask test
client (same data, same forms), then profiles the next N checkout requests with cProfile and
counts their SQL statements.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import (
    ROOT,
    HttpClient,
    Reply,
    TestClient,
    csrf_token,
    free_port,
    percentile,
    psql,
    stop,
)

DB_NAME = "eorder_ord_bench"  # its own: other benchmarks use eorder_fin, eorder_cat
DSN = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
JAKARTA = ZoneInfo("Asia/Jakarta")

PASSWORD = "bench-password-not-secret"  # noqa: S105 (a throw-away database)
PRICE = 35_000
QUANTITY = 10
ORDER_TOTAL = PRICE * QUANTITY
DISTRICT = "Menteng"
ACCOUNT_CODE = "5.1.02.01.01.0052"
#: the refusal message, in English and in Indonesian (the default language)
BUDGET_REFUSALS = ("Not enough budget left on", "Sisa anggaran pada")

ORDER_IDS_RE = re.compile(r'name="order_ids"[^>]*?value="([^"]*)"')
ORDER_PAGE_RE = re.compile(r"/orders/\d+$")
ERROR_TEXT_RE = re.compile(r'class="error-text"[^>]*>([^<]*)<')


# Database --------------------------------------------------------------------------------


def create_database() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "EORDER_ENV": "development"}
    env.pop("FLASK_DEBUG", None)
    subprocess.run(  # noqa: S603
        [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db-upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def drop_database() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


@dataclass(frozen=True)
class World:
    product_id: int
    line_id: int
    emails: list[str]
    allocation: int
    #: one product per vendor, in the vendors' order
    product_ids: list[int] = field(default_factory=list)


def app_config(tmp: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": DATABASE_URL,
        "SEARCH_INDEX_DIR": str(tmp / "search-index"),
        "UPLOAD_DIR": str(tmp / "uploads"),
        "SECRET_KEY": secrets.token_hex(32),
    }


def build_world(
    app: Any, clients: int, orders: int, password_hash: str | None = None, vendors: int = 1
) -> World:
    """The agency, its requesters and approver, the vendors with a product each and the
    budget line, written through the models and the ledger service as the app would."""
    from catalog.db import utcnow
    from catalog.models import (
        BusinessScale,
        BusinessType,
        Category,
        Product,
        ProductStatus,
        ReviewState,
        Unit,
        Vendor,
        VendorStatus,
    )
    from marketplace import db
    from marketplace.accounts.models import Agency, Membership, Role, User
    from marketplace.budgets import services as ledger
    from marketplace.budgets.models import BudgetLine

    password_hash = password_hash or generate_password_hash(PASSWORD)
    with app.app_context():
        session = db.get_session()
        agency = Agency(
            code="1.01.0.00.0.00.01.0000",
            name="Dinas Pendidikan",
            address="Jl. Gatot Subroto Kav. 40-41, Kuningan",
            city="Jakarta Selatan",
        )
        session.add(agency)
        session.flush()
        emails = []
        for number in range(clients):
            email = f"pengadaan{number:02d}@bench.go.id"
            user = User(
                email=email, name=f"Pejabat Pengadaan {number}", password_hash=password_hash
            )
            user.memberships.append(Membership(role=Role.REQUESTER, agency_id=agency.id))
            session.add(user)
            emails.append(email)
        approver = User(email="ppk@bench.go.id", name="PPK", password_hash=password_hash)
        approver.memberships.append(Membership(role=Role.APPROVER, agency_id=agency.id))
        session.add(approver)
        category = Category(slug="nasi-box", name_id="Nasi Kotak", name_en="Rice box")
        products = []
        for number in range(vendors):
            name = "Dapur Bu Tini" if number == 0 else f"Dapur Bu Tini {number + 1}"
            vendor = Vendor(
                legal_name=f"CV {name}",
                trading_name=name,
                business_type=BusinessType.CATERER,
                scale=BusinessScale.MICRO,
                district=DISTRICT,
                city="Jakarta Pusat",
                phone=f"0812-0000-{number:04d}",
                service_districts=[DISTRICT, "Gambir", "Tebet"],
                max_portions_per_day=None,
                status=VendorStatus.VERIFIED,
                verified_at=utcnow(),
            )
            products.append(
                Product(
                    vendor=vendor,
                    category=category,
                    name="Nasi Box Ayam Bakar",
                    description="Nasi putih, ayam bakar, sayur asem, sambal, buah.",
                    unit=Unit.BOX,
                    price=PRICE,
                    min_order_quantity=1,
                    lead_time_hours=24,
                    status=ProductStatus.PUBLISHED,
                    review_state=ReviewState.APPROVED,
                )
            )
        session.add_all([category, *products])
        session.flush()
        line = BudgetLine(
            agency_id=agency.id,
            fiscal_year=utcnow().astimezone(JAKARTA).year,
            account_code=ACCOUNT_CODE,
            name="Belanja Makanan dan Minuman Rapat",
            activity="Rapat koordinasi",
        )
        session.add(line)
        session.flush()
        allocation = orders * ORDER_TOTAL
        ledger.allocate(session, line, allocation, actor=None, reason="DPA")
        session.commit()
        product_ids = [product.id for product in products]
        world = World(product_ids[0], line.id, emails, allocation, product_ids)
    app.extensions["db_engine"].dispose()
    return world


# One client --------------------------------------------------------------------------


def log_in(client: HttpClient | TestClient, email: str) -> None:
    harness.log_in(client, email, PASSWORD)


class FormFields(HTMLParser):
    """The fields of every form on a page with the values a browser would send."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append({})
        if not self.forms or (not a.get("name") and tag != "option"):
            return
        fields = self.forms[-1]
        if tag == "input" and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif (
            tag == "option"
            and self._select is not None
            and (self._select not in fields or "selected" in a)
        ):
            fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            fields = self.forms[-1]  # a browser drops the newline that opens a textarea
            fields[self._textarea] = re.sub(r"^\r?\n", "", fields[self._textarea])
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self.forms:
            self.forms[-1][self._textarea] += data


def checkout_defaults(page: str) -> dict[str, str]:
    """The checkout form of the cart page as the app fills it in."""
    parser = FormFields()
    parser.feed(page)
    for fields in parser.forms:
        if "order_ids" in fields:
            return fields
    raise RuntimeError("the cart page has no checkout form")


def checkout_form(
    defaults: dict[str, str], token: str, order_ids: str, line_id: int
) -> dict[str, str]:
    """The checkout form as a requester fills it in: the page's defaults plus the details."""
    delivery = (datetime.now(JAKARTA) + timedelta(days=3)).date()
    return {
        **defaults,
        "csrf_token": token,
        "order_ids": order_ids,
        "budget_line_id": str(line_id),
        "activity_name": "Rapat koordinasi kesiapsiagaan banjir",
        "delivery_date": delivery.isoformat(),
        "delivery_time": clock(11, 30).strftime("%H:%M"),
        "delivery_address": "Jl. Kebon Sirih No. 22, Menteng",
        "delivery_district": DISTRICT,
        "headcount": str(QUANTITY),
        "recipient_name": "Joko Susilo",
        "recipient_phone": "0812-1111-2222",
    }


@dataclass
class Tally:
    add_ms: list[float] = field(default_factory=list)
    cart_ms: list[float] = field(default_factory=list)
    checkout_ms: list[float] = field(default_factory=list)
    success_ms: list[float] = field(default_factory=list)
    success_at: list[float] = field(default_factory=list)
    refused: int = 0
    other: Counter[str] = field(default_factory=Counter)


class Shopper:
    """One requester going round: add to cart (when the cart is empty), cart page, checkout."""

    def __init__(self, client: HttpClient | TestClient, world: World) -> None:
        self.client = client
        self.world = world
        self.tally = Tally()
        self.token = ""
        self.cart_full = False
        self.defaults: dict[str, str] | None = None

    def start(self) -> None:
        page = self.client.get("/cart").text
        self.token = csrf_token(page)
        match = ORDER_IDS_RE.search(page)
        self.cart_full = bool(match and match.group(1))

    def prepare(
        self,
        wrap_add: Callable[[Callable[[], Reply]], Reply] | None = None,
        wrap_cart: Callable[[Callable[[], Reply]], Reply] | None = None,
    ) -> str:
        """Fill the cart if needed and read the cart page; returns the order ids."""
        if not self.cart_full:
            started = time.perf_counter()
            reply = (wrap_add or direct)(
                lambda: self.client.post(
                    f"/cart/add/{self.world.product_id}",
                    {"quantity": str(QUANTITY), "csrf_token": self.token},
                )
            )
            self.tally.add_ms.append((time.perf_counter() - started) * 1000)
            if reply.status != 302:
                raise RuntimeError(f"add to cart answered {reply.status}")
            self.cart_full = True
        started = time.perf_counter()
        reply = (wrap_cart or direct)(lambda: self.client.get("/cart"))
        self.tally.cart_ms.append((time.perf_counter() - started) * 1000)
        if reply.status != 200:
            raise RuntimeError(f"cart page answered {reply.status}")
        self.token = csrf_token(reply.text)
        match = ORDER_IDS_RE.search(reply.text)
        if match is None or not match.group(1):
            raise RuntimeError("the cart page shows no order to submit")
        if self.defaults is None:  # read the form once, as the fields do not change
            self.defaults = checkout_defaults(reply.text)
        return match.group(1)

    def submit(self, order_ids: str, wrap: Callable[[Callable[[], Reply]], Reply]) -> None:
        form = checkout_form(self.defaults or {}, self.token, order_ids, self.world.line_id)
        started = time.perf_counter()
        reply = wrap(lambda: self.client.post("/cart", form))
        finished = time.perf_counter()
        elapsed = (finished - started) * 1000
        self.tally.checkout_ms.append(elapsed)
        if reply.status == 302 and ORDER_PAGE_RE.search(reply.location):
            self.tally.success_ms.append(elapsed)
            self.tally.success_at.append(finished)
            self.cart_full = False
        elif reply.status == 400 and any(text in reply.text for text in BUDGET_REFUSALS):
            self.tally.refused += 1  # the order stays in the cart; submit it again next time
        else:
            errors = " / ".join(ERROR_TEXT_RE.findall(reply.text))[:300]
            self.tally.other[f"{reply.status} {reply.location} {errors}".strip()] += 1


def direct(call: Callable[[], Reply]) -> Reply:
    return call()


# The HTTP run -----------------------------------------------------------------------


def start_gunicorn(
    tmp: Path, port: int, workers: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return harness.start_gunicorn(
        DATABASE_URL,
        port,
        workers,
        search_index_dir=tmp / "search-index",
        upload_dir=tmp / "uploads",
        error_log=tmp / "gunicorn.log",
        extra_env=extra_env,
    )


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    harness.wait_until_up(base, server, "/health")


def run_threads(count: int, target: Callable[[int], None]) -> float:
    """Run target(i) in `count` threads started together; returns the wall time."""
    barrier = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return wall


def health_baseline(clients: list[HttpClient], seconds: float) -> tuple[int, list[float]]:
    counts = [0] * len(clients)
    latencies: list[list[float]] = [[] for _ in clients]
    deadline = [0.0]

    def hammer(i: int) -> None:
        client = clients[i]
        while time.perf_counter() < deadline[0]:
            started = time.perf_counter()
            reply = client.get("/health")
            latencies[i].append((time.perf_counter() - started) * 1000)
            if reply.status != 200:
                raise RuntimeError(f"/health answered {reply.status}")
            counts[i] += 1

    deadline[0] = time.perf_counter() + seconds + 0.05
    run_threads(len(clients), hammer)
    return sum(counts), [ms for per_client in latencies for ms in per_client]


def order_run(shoppers: list[Shopper], limit: int, max_seconds: float) -> tuple[float, float, int]:
    """Submit until `limit` submissions were attempted or the time is up.

    Returns the wall time, the time at which the phase started, and the attempts made.
    """
    lock = threading.Lock()
    attempts = [0]
    clock_start = [0.0]

    def shop(i: int) -> None:
        shopper = shoppers[i]
        while True:
            order_ids = shopper.prepare()
            with lock:
                if attempts[0] >= limit or time.perf_counter() - clock_start[0] >= max_seconds:
                    return
                attempts[0] += 1
            shopper.submit(order_ids, direct)

    clock_start[0] = time.perf_counter()
    wall = run_threads(len(shoppers), shop)
    return wall, clock_start[0], attempts[0]


def print_cpu(used: Counter[str], wall: float, count: int, per: str) -> None:
    if not used or not count:
        return
    available = (os.cpu_count() or 1) * wall
    print(
        f"  CPU used: {sum(used.values()):.1f} s of {available:.1f} s available; per {per}: "
        + ", ".join(f"{role} {seconds * 1000 / count:.2f} ms" for role, seconds in used.items())
    )


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_role(server_pid: int) -> Counter[str]:
    """CPU seconds used so far by the app (gunicorn and its workers), by the PostgreSQL
    backends serving this database, and by this process (the clients). Linux only."""
    used: Counter[str] = Counter()
    if not Path("/proc/self/stat").exists():
        return used
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if int(entry.name) == server_pid or parent == server_pid:
            used["app"] += _cpu_seconds(int(entry.name))
        elif command.startswith("postgres: ") and f" {DB_NAME} " in command:
            used["PostgreSQL"] += _cpu_seconds(int(entry.name))
    used["clients"] += _cpu_seconds(os.getpid())
    return used


class LockSampler(threading.Thread):
    """Samples pg_stat_activity every 100 ms: how many of the app's backends run a statement,
    and how many of those wait for a lock (the budget line's row lock, mostly)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.done = threading.Event()
        self.samples = self.active = self.waiting = self.waiting_line = 0

    def run(self) -> None:
        with psycopg.connect(DSN, autocommit=True) as conn:
            while not self.done.wait(0.1):
                active, waiting, on_line = conn.execute(
                    "SELECT count(*) FILTER (WHERE state = 'active'),"
                    " count(*) FILTER (WHERE wait_event_type = 'Lock'),"
                    " count(*) FILTER (WHERE wait_event_type = 'Lock'"
                    "   AND query LIKE 'UPDATE budget_lines%%')"
                    " FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (DB_NAME,),
                ).fetchone() or (0, 0, 0)
                self.samples += 1
                self.active += active
                self.waiting += waiting
                self.waiting_line += on_line

    def summary(self) -> str:
        """The averages, in words."""
        return (
            f"PostgreSQL backends of the app, sampled every 100 ms: on average"
            f" {self.active / self.samples:.2f} active, of which"
            f" {self.waiting / self.samples:.2f} waiting for a lock"
            f" ({self.waiting_line / self.samples:.2f} on budget_lines)"
        )

    def __enter__(self) -> LockSampler:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        self.join()


# Results -------------------------------------------------------------------------------


def latency_row(name: str, values: list[float]) -> str:
    return (
        f"  {name:<26}{len(values):>7}  p50 {percentile(values, 50):7.1f}  "
        f"p99 {percentile(values, 99):7.1f}  max {max(values, default=float('nan')):7.1f} ms"
    )


def check_ledger(world: World, successes: int, orders: int) -> list[str]:
    """Read the line and its ledger straight from the database; returns what does not hold."""
    with psycopg.connect(DSN) as conn:
        allocation, committed, spent = conn.execute(
            "SELECT allocation, committed, spent FROM budget_lines WHERE id = %s",
            (world.line_id,),
        ).fetchone() or (0, 0, 0)
        sums = {
            kind: (count, total)
            for kind, count, total in conn.execute(
                "SELECT kind, count(*), coalesce(sum(amount), 0) FROM budget_entries"
                " WHERE budget_line_id = %s GROUP BY kind",
                (world.line_id,),
            ).fetchall()
        }
        statuses = dict(
            conn.execute("SELECT status, count(*) FROM orders GROUP BY status").fetchall()
        )
        committed_orders = conn.execute(
            "SELECT count(*), coalesce(sum(total), 0) FROM orders"
            " WHERE budget_line_id = %s AND status = 'submitted'",
            (world.line_id,),
        ).fetchone() or (0, 0)
    available = allocation - committed - spent
    commit_rows, commit_sum = sums.get("commit", (0, 0))
    checks = {
        f"allocation {allocation:,} = available {available:,} + committed {committed:,}"
        f" + spent {spent:,}": allocation == available + committed + spent,
        f"allocation = the budget for K = {orders} orders": allocation == world.allocation,
        "available >= 0": available >= 0,
        f"committed = successes x {ORDER_TOTAL:,}": committed == successes * ORDER_TOTAL,
        f"commit ledger rows ({commit_rows}) = successes ({successes})": commit_rows == successes,
        "commit ledger rows sum to committed": commit_sum == committed,
        "no release or spend rows": set(sums) <= {"allocate", "commit"},
        f"submitted orders ({committed_orders[0]}) = successes": committed_orders[0] == successes,
        "submitted orders' totals = committed": committed_orders[1] == committed,
        f"no order beyond K = {orders} succeeded": successes <= orders,
        f"orders by status: {statuses}": set(statuses) <= {"submitted", "cart"},
    }
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAILED'}] {label}")
    return [label for label, ok in checks.items() if not ok]


def http_benchmark(args: argparse.Namespace) -> int:
    from marketplace import create_app

    with tempfile.TemporaryDirectory(prefix="order-bench-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        create_database()
        try:
            world = build_world(create_app(app_config(tmp)), args.clients, args.orders)
            print(
                f"database {DB_NAME} migrated and filled in {time.perf_counter() - started:.1f} s:"
                f" {args.clients} requesters, budget line of Rp {world.allocation:,}"
                f" = {args.orders} orders of Rp {ORDER_TOTAL:,}"
            )
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            server = start_gunicorn(tmp, port, args.workers)
            try:
                wait_until_up(base, server)
                print(f"gunicorn: {args.workers} sync workers on {base}")
                clients = [HttpClient(base) for _ in world.emails]
                run_threads(len(clients), lambda i: log_in(clients[i], world.emails[i]))
                shoppers = [Shopper(client, world) for client in clients]
                for shopper in shoppers:
                    shopper.start()

                cpu_before = cpu_by_role(server.pid)
                health_count, health_ms = health_baseline(clients, args.health_seconds)
                health_cpu = cpu_by_role(server.pid) - cpu_before
                limit = args.orders + args.extra
                cpu_before = cpu_by_role(server.pid)
                with LockSampler() as locks:
                    wall, phase_start, attempts = order_run(shoppers, limit, args.max_seconds)
                cpu_used = cpu_by_role(server.pid) - cpu_before
            finally:
                stop(server)
            tally = merge([shopper.tally for shopper in shoppers])
            if any(label.startswith("5") for label in tally.other):
                log = (tmp / "gunicorn.log").read_text(errors="replace").splitlines()
                print("server errors; the end of the gunicorn log:", *log[-30:], sep="\n")
            successes = len(tally.success_ms)
            health_rate = health_count / args.health_seconds
            rate = successes / wall
            load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
            print(f"load average after the run (1, 5, 15 min): {load}, {os.cpu_count()} cores")
            print()
            print(f"GET /health, {args.clients} clients, {args.health_seconds:g} s:")
            print(f"  {health_rate:,.0f} requests/s")
            print(latency_row("latency", health_ms))
            print_cpu(health_cpu, args.health_seconds, health_count, "request")
            print()
            print(f"order submission, {args.clients} clients, {wall:.1f} s:")
            print(
                f"  {attempts} checkouts attempted (limit K + {args.extra} = {limit},"
                f" or {args.max_seconds:g} s)"
            )
            print(f"  {successes} submitted, {tally.refused} refused for insufficient budget")
            for label, count in tally.other.items():
                print(f"  {count} other answers: {label}")
            print(f"  {rate:.1f} orders/s over the wall time ({rate / health_rate:.1%} of /health)")
            if successes:
                last = max(tally.success_at) - phase_start
                print(f"  {successes / last:.1f} orders/s until the last success ({last:.1f} s)")
            windows = Counter(int((at - phase_start) // 10) for at in tally.success_at)
            if wall >= 10:  # whole windows only
                by_window = ", ".join(f"{windows[w] / 10:.1f}" for w in range(int(wall // 10)))
                print(f"  orders/s in successive 10-s windows: {by_window}")
            page_rate = (len(tally.add_ms) + len(tally.cart_ms) + len(tally.checkout_ms)) / wall
            print(f"  {page_rate:.1f} requests/s in all (add to cart, cart page, checkout)")
            print_cpu(cpu_used, wall, successes, "submitted order")
            if locks.samples:
                print(f"  {locks.summary()}")
            print(latency_row("checkout POST, all", tally.checkout_ms))
            print(latency_row("checkout POST, submitted", tally.success_ms))
            print(latency_row("add to cart POST", tally.add_ms))
            print(latency_row("cart page GET", tally.cart_ms))
            print()
            print("ledger, read from the database:")
            failures = check_ledger(world, successes, args.orders)
            if attempts > args.orders and successes != args.orders:
                print(
                    f"  note: {attempts} attempts but {successes} successes for K = {args.orders}"
                )
            if attempts <= args.orders:
                print(
                    f"  note: the time ran out after {attempts} attempts, before the line was"
                    " empty; the refusal path was not exercised"
                )
        finally:
            if args.keep_db:
                print(f"kept database {DB_NAME}")
            else:
                drop_database()
    if failures or tally.other:
        print("FAILED: the ledger does not add up" if failures else "FAILED: unexpected answers")
        return 1
    print(f"goal (issue 10): at least 100 orders/s with no overspend: {rate:.1f} orders/s")
    return 0


def merge(tallies: list[Tally]) -> Tally:
    merged = Tally()
    for tally in tallies:
        merged.add_ms += tally.add_ms
        merged.cart_ms += tally.cart_ms
        merged.checkout_ms += tally.checkout_ms
        merged.success_ms += tally.success_ms
        merged.success_at += tally.success_at
        merged.refused += tally.refused
        merged.other.update(tally.other)
    return merged


# Profiling -----------------------------------------------------------------------------


def profile(args: argparse.Namespace) -> int:
    """Submit --profile-after orders in-process, then profile the next --profile checkouts."""
    from sqlalchemy import event

    from marketplace import create_app

    with tempfile.TemporaryDirectory(prefix="order-bench-") as name:
        tmp = Path(name)
        create_database()
        try:
            app = create_app(app_config(tmp))
            world = build_world(app, 1, args.profile_after + 2 * args.profile)
            shopper = Shopper(TestClient(app), world)
            log_in(shopper.client, world.emails[0])
            shopper.start()
            for _ in range(args.profile_after):
                shopper.submit(shopper.prepare(), direct)
            if shopper.tally.other or shopper.tally.refused:
                raise RuntimeError(f"warm-up checkouts failed: {shopper.tally}")
            warm = shopper.tally.checkout_ms
            print(f"{args.profile_after} orders submitted before profiling")
            for first in range(0, len(warm), max(100, len(warm) // 5)):
                chunk = warm[first : first + max(100, len(warm) // 5)]
                print(
                    f"  checkouts {first + 1}-{first + len(chunk)}:"
                    f" p50 {percentile(chunk, 50):.1f} ms, not profiled"
                )

            engine = app.extensions["db_engine"]
            probes = {kind: Probe() for kind in REQUEST_KINDS}
            current: list[Probe | None] = [None]

            def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
                if current[0] is not None:
                    current[0].statements.append((statement, time.perf_counter()))

            def after(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
                if current[0] is not None:
                    sql, started = current[0].statements[-1]
                    current[0].statements[-1] = (sql, time.perf_counter() - started)

            event.listen(engine, "before_cursor_execute", before)
            event.listen(engine, "after_cursor_execute", after)

            def profiled(kind: str) -> Callable[[Callable[[], Reply]], Reply]:
                probe = probes[kind]

                def wrap(call: Callable[[], Reply]) -> Reply:
                    current[0] = probe
                    probe.requests += 1
                    started = time.perf_counter()
                    probe.profiler.enable()
                    try:
                        return call()
                    finally:
                        probe.profiler.disable()
                        probe.ms.append((time.perf_counter() - started) * 1000)
                        current[0] = None

                return wrap

            cpu: dict[str, list[float]] = {kind: [] for kind in REQUEST_KINDS}

            def timed(kind: str) -> Callable[[Callable[[], Reply]], Reply]:
                def wrap(call: Callable[[], Reply]) -> Reply:
                    started = time.process_time()
                    try:
                        return call()
                    finally:
                        cpu[kind].append((time.process_time() - started) * 1000)

                return wrap

            shopper.tally = Tally()
            for _ in range(args.profile):  # CPU time without the profiler first
                order_ids = shopper.prepare(timed("add to cart"), timed("cart page"))
                shopper.submit(order_ids, timed("checkout"))
            for _ in range(args.profile):
                order_ids = shopper.prepare(profiled("add to cart"), profiled("cart page"))
                shopper.submit(order_ids, profiled("checkout"))
            if len(shopper.tally.success_ms) != 2 * args.profile:
                raise RuntimeError(f"profiled checkouts failed: {shopper.tally}")
            engine.dispose()
        finally:
            drop_database()

    print(
        f"CPU time of the process per request, median of {args.profile} orders not profiled"
        " (the app and the Flask test client): "
        + ", ".join(f"{kind} {percentile(ms, 50):.1f} ms" for kind, ms in cpu.items())
        + f"; per order {sum(percentile(ms, 50) for ms in cpu.values()):.1f} ms"
    )
    print(f"{args.profile} orders profiled (each: add to cart, cart page, checkout):")
    for kind, probe in probes.items():
        print(probe.summary(kind, args.verbose))
    return 0


REQUEST_KINDS = ("add to cart", "cart page", "checkout")


@dataclass
class Probe:
    """cProfile and the SQL statements of one kind of request."""

    #: CPU time, not wall time: waiting for PostgreSQL is not the app's work
    profiler: cProfile.Profile = field(default_factory=lambda: cProfile.Profile(time.process_time))
    statements: list[tuple[str, float]] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    requests: int = 0

    def summary(self, kind: str, verbose: bool) -> str:
        n = max(self.requests, 1)
        out = io.StringIO()
        sql_ms = sum(elapsed for _, elapsed in self.statements) * 1000
        print(
            f"\n== {kind}: {self.requests} requests, {sum(self.ms) / n:.1f} ms each profiled (wall)"
            f" (p50 {percentile(self.ms, 50):.1f}), {len(self.statements) / n:.1f} SQL"
            f" statements each, {sql_ms / n:.1f} ms in the database",
            file=out,
        )
        print("statements per request, in the order of the last request:", file=out)
        last = self.statements[-round(len(self.statements) / n) :] if self.statements else []
        for sql, elapsed in last:
            print(f"  {elapsed * 1000:6.2f} ms  {' '.join(sql.split())[:110]}", file=out)
        print("own CPU time per request, by package (cProfile, so inflated):", file=out)
        for package, seconds in own_time_by_package(pstats.Stats(self.profiler)).most_common(10):
            print(f"  {seconds * 1000 / n:6.2f} ms  {package}", file=out)
        if verbose:
            for key in ("cumulative", "tottime"):
                stats = pstats.Stats(self.profiler, stream=out).strip_dirs().sort_stats(key)
                stats.print_stats(35)
        return out.getvalue()


def own_time_by_package(stats: pstats.Stats) -> Counter[str]:
    """Seconds spent in each package's own code: the app's modules, libraries, built-ins."""
    totals: Counter[str] = Counter()
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        path = Path(filename)
        if "site-packages" in path.parts:
            package = path.parts[path.parts.index("site-packages") + 1]
        elif path.is_relative_to(ROOT):
            package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:2])
        elif filename == "~":
            package = "built-in: " + function[:60]
        else:
            package = "stdlib: " + path.stem
        totals[package] += row[2]
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="K: orders the line can pay")
    parser.add_argument("--extra", type=int, default=200, help="submissions tried beyond K")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--health-seconds", type=float, default=5.0)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--profile", type=int, default=0, help="profile N checkouts in-process")
    parser.add_argument("--profile-after", type=int, default=500)
    parser.add_argument(
        "--verbose", action="store_true", help="with --profile: cProfile's tables of each request"
    )
    args = parser.parse_args()
    if args.profile:
        return profile(args)
    return http_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())

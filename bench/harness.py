"""Pieces the HTTP benchmarks share: PostgreSQL databases, migrations, gunicorn on 127.0.0.1,
a logged-in HTTP client, percentiles and CPU accounting from /proc."""

from __future__ import annotations

import contextlib
import html
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
#: the code that is served and migrated: this checkout, or a snapshot of one commit
#: (`git archive <commit> | tar -x -C DIR`, then EORDER_BENCH_APP_DIR=DIR) so that a long
#: run measures one version while the checkout changes
APP_DIR = Path(os.environ.get("EORDER_BENCH_APP_DIR", ROOT))
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))  # the app is imported inside the functions that need it

PG_HOST = "127.0.0.1:5432"
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"]
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


# Databases -------------------------------------------------------------------------------


def pg_dsn(name: str) -> str:
    """A psycopg connection string for the database `name`."""
    return f"postgresql://postgres@{PG_HOST}/{name}"


def pg_url(name: str) -> str:
    """The SQLAlchemy URL of the database `name`, as the app takes it in DATABASE_URL."""
    return f"postgresql+psycopg://postgres@{PG_HOST}/{name}"


def psql(sql: str) -> None:
    subprocess.run([*PG_ADMIN, "-qc", sql], check=True, capture_output=True)  # noqa: S603


def drop_pg_database(name: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def create_pg_database(name: str) -> None:
    drop_pg_database(name)
    psql(f"CREATE DATABASE {name}")


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a flask command or a gunicorn server of the app: development
    settings (production session cookies are Secure, and the benchmarks speak plain HTTP),
    no debugger, a random secret key."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "EORDER_ENV": "development",
        "SECRET_KEY": secrets.token_hex(32),
        **extra,
    }
    env.pop("FLASK_DEBUG", None)
    return env


def flask(database_url: str, *args: str, **extra_env: str) -> str:
    """Run `flask --app wsgi ARGS` against the database; returns its output."""
    done = subprocess.run(  # noqa: S603
        [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args],
        cwd=APP_DIR,
        env=app_env(database_url, **extra_env),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def migrate(database_url: str) -> None:
    """Bring the database to the newest schema with the app's own migrations."""
    flask(database_url, "db-upgrade")


# The server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    database_url: str,
    port: int,
    workers: int,
    *,
    search_index_dir: Path,
    upload_dir: Path,
    error_log: Path,
    timeout: int = 30,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """gunicorn with sync workers on 127.0.0.1:port serving wsgi:app; a worker busy with one
    request for more than `timeout` seconds is killed and replaced (gunicorn's default 30)."""
    env = app_env(
        database_url,
        EORDER_SEARCH_INDEX_DIR=str(search_index_dir),
        EORDER_UPLOAD_DIR=str(upload_dir),
        **(extra_env or {}),
    )
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "--no-control-socket",
        "--worker-class",
        "sync",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        str(timeout),
        "--error-logfile",
        str(error_log),
        "wsgi:app",
    ]
    return subprocess.Popen(command, cwd=APP_DIR, env=env)  # noqa: S603


def wait_until_up(base: str, server: subprocess.Popen[bytes], path: str = "/healthz") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn stopped before answering")
        try:
            if requests.get(base + path, timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {path} within 60 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_idle(base: str, limit_seconds: float = 600) -> float:
    """Wait until the server answers /healthz at once again (the requests wrk left queued
    have been served); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_seconds:
        asked = time.monotonic()
        with contextlib.suppress(requests.RequestException):
            requests.get(base + "/healthz", timeout=limit_seconds)
        if time.monotonic() - asked < 0.05:
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError(f"the server was still busy after {limit_seconds:g} s")


# One client ------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    location: str
    text: str


class HttpClient:
    """A browser of one user over HTTP: cookies kept, redirects not followed."""

    def __init__(self, base: str, timeout: float = 60) -> None:
        self.base = base
        self.timeout = timeout
        self.session = requests.Session()

    def get(self, path: str) -> Reply:
        r = self.session.get(self.base + path, allow_redirects=False, timeout=self.timeout)
        return Reply(r.status_code, r.headers.get("Location", ""), r.text)

    def post(self, path: str, data: dict[str, str]) -> Reply:
        r = self.session.post(
            self.base + path, data=data, allow_redirects=False, timeout=self.timeout
        )
        return Reply(r.status_code, r.headers.get("Location", ""), r.text)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)


class TestClient:
    """The same through the Flask test client, in this process (for profiling)."""

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()

    def get(self, path: str) -> Reply:
        r = self.client.get(path)
        return Reply(r.status_code, r.headers.get("Location", ""), r.get_data(as_text=True))

    def post(self, path: str, data: dict[str, str]) -> Reply:
        r = self.client.post(path, data=data)
        return Reply(r.status_code, r.headers.get("Location", ""), r.get_data(as_text=True))


def csrf_token(page: str) -> str:
    match = CSRF_RE.search(page)
    if match is None:
        raise RuntimeError("no csrf_token on the page")
    return html.unescape(match.group(1))


def log_in(client: HttpClient | TestClient, email: str, password: str) -> None:
    token = csrf_token(client.get("/login").text)
    reply = client.post("/login", {"csrf_token": token, "email": email, "password": password})
    if reply.status != 302:
        raise RuntimeError(f"login of {email} answered {reply.status}")


# Figures ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_role(server_pid: int, pg_database: str | None) -> dict[str, float]:
    """CPU seconds used so far by the app (gunicorn and its workers), by the PostgreSQL
    backends serving `pg_database`, and by this process (the clients). Linux only."""
    used: dict[str, float] = {"app": 0.0, "PostgreSQL": 0.0, "clients": 0.0}
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
        elif pg_database and command.startswith("postgres: ") and f" {pg_database} " in command:
            used["PostgreSQL"] += _cpu_seconds(int(entry.name))
    used["clients"] += _cpu_seconds(os.getpid())
    return used

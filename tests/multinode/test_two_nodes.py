"""Two app nodes, each with its own search index and its own worker, on one PostgreSQL
database: a product published through node A is found through node B's search within 5 s,
and every e-mail in the outbox is sent exactly once by the two workers together.

Each node is a gunicorn server (sync worker) and a `flask worker` process, started as
separate programs with the environment a deployment gives them.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from catalog.models import ReviewState
from marketplace.notifications.models import OutboxMessage
from marketplace.notifications.outbox import queue_email
from tests.marketplace.notifications.conftest import SmtpServer, subject
from tests.support import PASSWORD, ProductFactory

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 40
PRODUCT = "Kue Lumpur Kentang Istimewa"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """A person's browser against one node: cookies kept, CSRF tokens read from forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read().decode()

    def post(self, path: str, data: dict[str, str], token_from: str) -> int:
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get(token_from))
        assert token, f"no CSRF token on {token_from}"
        body = urllib.parse.urlencode({**data, "csrf_token": token.group(1)}).encode()
        with self.opener.open(self.base + path, data=body, timeout=10) as response:
            return response.status

    def log_in(self, email: str) -> None:
        self.post("/login", {"email": email, "password": PASSWORD}, token_from="/login")
        assert "/logout" in self.get("/"), f"{email} could not log in"


class Node:
    def __init__(self, name: str, database_url: str, tmp: Path, uploads: Path, mail_port: int):
        self.name = name
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "EORDER_ENV": "development",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "two-node-test-secret-key-shared-by-both-nodes",
            "EORDER_SEARCH_INDEX_DIR": str(tmp / f"index-{name}"),
            "EORDER_UPLOAD_DIR": str(uploads),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mail_port),
            "SMTP_SECURITY": "none",
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("TEST_DATABASE_URL", None)
        self.log = open(tmp / f"node-{name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> Node:
        bin_dir = Path(sys.executable).parent
        web = [
            str(bin_dir / "gunicorn"),
            "--no-control-socket",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{self.port}",
            "wsgi:app",
        ]
        worker = [str(bin_dir / "flask"), "--app", "wsgi", "worker", "--follow-interval", "0.5"]
        for command in (web, worker):
            self.processes.append(
                subprocess.Popen(
                    command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
                )
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):  # noqa: S310
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"node {self.name} did not start; see {self.log.name}")

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.log.close()


def _found(browser: Browser, words: str, name: str) -> bool:
    return name in browser.get("/catalog/?" + urllib.parse.urlencode({"q": words}))


def _wait_for(condition, seconds: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
def mail_sink():  # type: ignore[no-untyped-def]
    server = SmtpServer().start()
    yield server
    server.stop()


def test_a_product_published_on_one_node_is_found_on_the_other(
    db, world, database_url, tmp_path, mail_sink
):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("several nodes share a PostgreSQL database")
    product = ProductFactory(
        vendor=world.vendor,
        category=world.product.category,
        name=PRODUCT,
        review_state=ReviewState.PENDING,
    )
    for number in range(MESSAGES):
        queue_email(db, world.requester, "order.paid", f"Pesan {number:02d}", f"Isi {number}")
    db.commit()

    uploads = tmp_path / "uploads"  # one directory both nodes share
    nodes = [Node(name, database_url, tmp_path, uploads, mail_sink.port) for name in "ab"]
    try:
        for node in nodes:
            node.start()
        a, b = (Browser(node.base) for node in nodes)
        b.log_in(world.requester.email)
        # Both workers start by syncing their own empty index from the database.
        _wait_for(lambda: _found(b, "nasi box", world.product.name), 30, "node B's first sync")
        assert not _found(b, "lumpur", PRODUCT)

        a.log_in(world.curator.email)
        status = a.post(f"/admin/listings/{product.id}/approve", {}, token_from="/admin/listings")
        assert status == 200  # after the redirect
        seconds = _wait_for(lambda: _found(b, "lumpur", PRODUCT), 5, "found through node B")
        print(f"published on node A, found through node B after {seconds:.2f} s")

        def all_sent() -> bool:
            waiting = db.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
            db.commit()
            return waiting == 0

        _wait_for(all_sent, 30, "every e-mail sent")
    finally:
        for node in nodes:
            node.stop()
    sent = db.scalar(select(func.count()).select_from(OutboxMessage))
    db.commit()
    subjects = Counter(subject(message) for message in mail_sink.messages)
    assert len(mail_sink.messages) == sent >= MESSAGES
    assert set(subjects.values()) == {1}, subjects.most_common(3)
    logs = "".join(Path(tmp_path / f"node-{n}.log").read_text() for n in "ab")
    assert "Traceback" not in logs, logs[-3000:]

"""The demo site, served for looking at pages: a fresh demo world in a temporary SQLite
database, the app on 127.0.0.1, headless Chromium, and the main pages of each person.

Used by `make screenshots` (docs/screenshots/capture.py) and bench/page_weight.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "demo-eorder-2026"  # noqa: S105 (the printed demo password)


@dataclass(frozen=True)
class DemoPage:
    name: str
    person: str | None  # an e-mail of the demo world, or None for a visitor
    path: str  # may name "{order}", "{product}", "{vendor}", resolved from the page list


REQUESTER = "requester@dinkes.demo.go.id"
APPROVER = "approver@dinkes.demo.go.id"
BUDGET_HOLDER = "budget@dinkes.demo.go.id"
TREASURER = "treasurer@disdik.demo.go.id"
VENDOR = "owner@dapur-bu-sari.demo.id"
FINANCE = "finance@demo.go.id"
CURATOR = "curator@demo.go.id"
AUDITOR = "auditor@demo.go.id"

#: every main page, in the order a reader of the docs meets them
PAGES = [
    DemoPage("login", None, "/login"),
    DemoPage("register", None, "/register"),
    DemoPage("requester-home", REQUESTER, "/"),
    DemoPage("catalogue", REQUESTER, "/catalog/"),
    DemoPage("search", REQUESTER, "/catalog/?q=nasi+kotak&max_lead=48"),
    DemoPage("product", REQUESTER, "{product}"),
    DemoPage("vendor-page", REQUESTER, "{vendor}"),
    DemoPage("cart", REQUESTER, "/cart"),
    DemoPage("orders", REQUESTER, "/orders"),
    DemoPage("order", REQUESTER, "{order}"),
    DemoPage("approver-home", APPROVER, "/"),
    DemoPage("approvals", APPROVER, "/approvals"),
    DemoPage("budgets", BUDGET_HOLDER, "/budgets/"),
    DemoPage("vendor-home", VENDOR, "/"),
    DemoPage("vendor-desk", VENDOR, "/vendor/"),
    DemoPage("kitchen-sheet", VENDOR, "/vendor/kitchen"),
    DemoPage("vendor-payments", VENDOR, "/vendor/payments"),
    DemoPage("treasurer-home", TREASURER, "/"),
    DemoPage("payments", TREASURER, "/payments/"),
    DemoPage("finance-home", FINANCE, "/"),
    DemoPage("finance-reconcile", FINANCE, "/finance/"),
    DemoPage("finance-exceptions", FINANCE, "/finance/exceptions"),
    DemoPage("finance-reports", FINANCE, "/finance/reports"),
    DemoPage("curator-home", CURATOR, "/"),
    DemoPage("curator-listings", CURATOR, "/admin/listings"),
    DemoPage("audit", AUDITOR, "/audit/"),
    DemoPage("security", APPROVER, "/account/security"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def demo_site() -> Iterator[str]:
    """A fresh demo world served on 127.0.0.1; yields the base URL."""
    with tempfile.TemporaryDirectory(prefix="eorder-demo-") as tmp:
        env = {
            **os.environ,
            "EORDER_ENV": "development",
            "EORDER_DEMO": "1",
            "DATABASE_URL": f"sqlite:///{tmp}/demo.sqlite",
            "EORDER_UPLOAD_DIR": f"{tmp}/uploads",
            "EORDER_SEARCH_INDEX_DIR": f"{tmp}/index",
            "EORDER_LOGIN_RATE_LIMIT": "1000 per minute",
            "EORDER_LOGIN_IP_RATE_LIMIT": "1000 per minute",
        }
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        for step in (["db-upgrade"], ["seed-demo"], ["catalog", "sync-search"]):
            subprocess.run([*flask, *step], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603
            [*flask, "run", "--host", "127.0.0.1", "--port", str(port), "--with-threads"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the demo site did not start") from None
                    time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            server.wait(timeout=10)


def log_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    if "/login" in page.url:
        raise RuntimeError(f"{email} could not log in")


def resolve(page, base: str, path: str) -> str:  # type: ignore[no-untyped-def]
    """Fill "{order}", "{product}" and "{vendor}" with the first such link on a listing page."""
    sources = {
        "{order}": ("/orders", "a[href^='/orders/']"),
        "{product}": ("/catalog/", "a[href^='/catalog/products/']"),
        "{vendor}": ("/catalog/", "a[href^='/catalog/vendors/']"),
    }
    if path not in sources:
        return path
    listing, selector = sources[path]
    page.goto(base + listing)
    href = page.locator(selector).first.get_attribute("href")
    if not href:
        raise RuntimeError(f"no link for {path} on {listing}")
    return href


def pages_by_person() -> dict[str | None, list[DemoPage]]:
    grouped: dict[str | None, list[DemoPage]] = {}
    for demo_page in PAGES:
        grouped.setdefault(demo_page.person, []).append(demo_page)
    return grouped

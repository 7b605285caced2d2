"""Health checks for the load balancer and the orchestrator: alive (`/healthz`), ready (`/readyz`).

Neither needs a login, reads the session or sets a cookie, and neither may be cached. `/readyz`
names the failing check but never its error message (which can hold a host name or a path);
the message goes to the log.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Response, current_app, jsonify

from catalog.search import CatalogIndex

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
CHECK_TIMEOUT_SECONDS = 2.0


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def alive():  # type: ignore[no-untyped-def]
    """The process answers: no database, no disk."""
    return _no_store(jsonify(status="ok"))


def check_database() -> None:
    # A raw DBAPI connection: the engine's SQLite "begin" hook (BEGIN IMMEDIATE) would take
    # the write lock just to answer a probe.
    connection = current_app.extensions["db_engine"].raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchone()
        cursor.close()
    finally:
        connection.close()


def check_search_index() -> None:
    # Read afresh (not the process's cached index) so that a broken directory shows now.
    CatalogIndex.check(current_app.config["SEARCH_INDEX_DIR"])


def _redis_command(stream: socket.socket, *parts: str) -> bytes:
    payload = f"*{len(parts)}\r\n".encode()
    for part in parts:
        data = part.encode()
        payload += b"$%d\r\n%s\r\n" % (len(data), data)
    stream.sendall(payload)
    return stream.recv(512)


def redis_ping(url: str, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
    """PING the Redis at `url` (redis:// or rediss://) over a plain socket; raise if no PONG."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
    stream: socket.socket = socket.create_connection(
        (parts.hostname or "localhost", parts.port or 6379), timeout=timeout
    )
    try:
        if parts.scheme == "rediss":
            stream = ssl.create_default_context().wrap_socket(
                stream, server_hostname=parts.hostname
            )
        if parts.password:
            credentials = [unquote(parts.password)]
            if parts.username:
                credentials.insert(0, unquote(parts.username))
            if not _redis_command(stream, "AUTH", *credentials).startswith(b"+OK"):
                raise ConnectionError("Redis refused the credentials")
        if not _redis_command(stream, "PING").startswith(b"+PONG"):
            raise ConnectionError("Redis did not answer PONG")
    finally:
        stream.close()


def _checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {
        "database": check_database,
        "search_index": check_search_index,
    }
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        checks["redis"] = lambda: redis_ping(redis_url)
    return checks


@bp.get("/readyz")
def ready():  # type: ignore[no-untyped-def]
    """Can serve: the database answers, the search index opens, Redis (if configured) PONGs."""
    results: dict[str, dict[str, object]] = {}
    failing: list[str] = []
    for name, check in _checks().items():
        started = time.perf_counter()
        try:
            check()
        except Exception as error:  # any failure makes the node unready; the log has why
            log.warning("readiness check %s failed", name, exc_info=True)
            failing.append(name)
            results[name] = {"ok": False, "error": type(error).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    body = {"status": "unavailable" if failing else "ok", "checks": results}
    if failing:
        body["failing"] = failing
    response = jsonify(body)
    response.status_code = 503 if failing else 200
    return _no_store(response)

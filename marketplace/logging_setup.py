"""Logs as one JSON object a line (for the journal or a log shipper), and a line per request.

Each request gets an id: the proxy's `X-Request-ID` when it is well-formed, otherwise a new one.
It is echoed in the response's `X-Request-ID` header and carried by every log record written
while the request runs, so an error a person reports (with the id) leads to its traceback.
Nothing secret is logged: no query string, no headers, no cookies, no form data.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
#: the logger of the one-line-per-request records; their fields are in `record.fields`
request_log = logging.getLogger("marketplace.request")
_HANDLER_MARK = "_eorder_json_handler"
_ENVIRON_ID = "eorder.request_id"
_ENVIRON_STARTED = "eorder.request_started"


def request_id() -> str:
    """The id of the current request (taken from the proxy or made up, once)."""
    # Kept in the WSGI environ, not `g`: an app context can outlive one request (in tests).
    environ = request.environ
    if _ENVIRON_ID not in environ:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        well_formed = _WELL_FORMED_REQUEST_ID.fullmatch(offered)
        environ[_ENVIRON_ID] = offered if well_formed else uuid.uuid4().hex
    return str(environ[_ENVIRON_ID])


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every record written during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id() if has_request_context() else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_json_logging(level: int = logging.INFO) -> logging.Handler:
    """Send every logger's records to stdout as JSON lines (once per process)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, _HANDLER_MARK, False):
            return handler
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    return handler


def _logged_in_user_id() -> int | None:
    # Only a user already loaded by the view: loading one here could touch the session (and
    # set a cookie) on requests that never asked who is there, such as the health checks.
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "id", None)


def install(app: Flask) -> None:
    """Give every request an id and write one record per request to `marketplace.request`."""
    if app.config.get("LOG_JSON"):
        from flask.logging import default_handler

        configure_json_logging()
        app.logger.removeHandler(default_handler)  # the root's JSON handler writes it once

    def _start() -> None:
        request.environ[_ENVIRON_STARTED] = time.perf_counter()
        request_id()

    # First, so that the clock starts before any other hook (and runs even if one aborts).
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _log_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id()
        started = request.environ.get(_ENVIRON_STARTED)
        fields = {
            "method": request.method,
            "path": request.path,  # never the query string: it may carry tokens
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1)
            if started is not None
            else None,
            "request_id": request_id(),
            "user_id": _logged_in_user_id(),
        }
        request_log.info(
            "%s %s %s", fields["method"], fields["path"], fields["status"], extra={"fields": fields}
        )
        return response

"""Typed domain errors that services raise and views turn into clear messages, and the answer
to a lost database connection."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a user can cause; `message` is shown to them."""

    status_code = 400

    def __init__(self, message: object, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class PermissionDenied(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class IllegalTransition(DomainError):
    """The object is not in a state that allows this action (e.g. approving a paid order)."""

    status_code = 409


class Conflict(DomainError):
    status_code = 409


class InsufficientBudget(DomainError):
    status_code = 409


#: seconds a client is asked to wait before retrying after the database went away
DATABASE_RETRY_AFTER = 5


def is_database_outage(error: BaseException) -> bool:
    """Whether `error` says the database connection went away, rather than a bad statement."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError)


def register_database_outage_handler(app: Flask) -> None:
    """Answer 503 with Retry-After when the database connection drops or refuses.

    The session is rolled back (its connection is discarded; the pool's pre-ping replaces
    stale ones), so the next request works once the database is back. Pages get a short
    message in the person's language; the API gets `application/problem+json`.
    """
    from sqlalchemy.exc import DBAPIError

    @app.errorhandler(DBAPIError)
    def _database_unavailable(error: DBAPIError):  # type: ignore[no-untyped-def]
        if not is_database_outage(error):
            raise error  # a bad statement or a broken constraint is a bug: the usual 500
        from marketplace import db

        log.warning(
            "database unavailable during %s %s", request.method, request.path, exc_info=error
        )
        with contextlib.suppress(Exception):
            db.get_session().rollback()
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
        if request.path.startswith("/api/"):
            return _outage_problem(headers)
        try:
            body = render_template("errors/error.html", code=503, message=None)
        except Exception:  # the page itself needs the database (the signed-in person, ...)
            # Straight from the environment: context processors would load the person again.
            body = current_app.jinja_env.get_template("errors/unavailable.html").render(
                lang=str(get_locale() or "id")
            )
        return body, 503, headers


def _outage_problem(headers: dict[str, str]):  # type: ignore[no-untyped-def]
    from flask_babel import force_locale

    from marketplace.api.problems import client_language, problem_response

    with force_locale(client_language()):
        detail = _("The service is briefly unavailable. Try again in a few seconds.")
    return problem_response(
        503, detail, kind="service-unavailable", title="Service unavailable", headers=headers
    )

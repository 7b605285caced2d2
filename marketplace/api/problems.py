"""Errors of the API as RFC 9457 problem details (`application/problem+json`), never HTML.

Titles are English. A domain error's `detail` is its own message, in the language the
client asks for with Accept-Language (English or Indonesian; English by default).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import force_locale
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from marketplace import db
from marketplace.api.tokens import InvalidToken
from marketplace.api.validation import RequestInvalid
from marketplace.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    InsufficientBudget,
    NotFound,
    PermissionDenied,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: where each kind of problem is explained (docs/api.md); "about:blank" means the status says it
TYPE_BASE = "urn:e-order:problem:"
#: the API's language for details, unless the client asks for Indonesian
API_LANGUAGES = ("en", "id")


class ApiProblem(Exception):
    """A problem a view raises directly: status, title and detail as given."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        title: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.title = title
        self.errors = errors
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    title: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + kind if kind else "about:blank",
        "title": title or _status_title(status),
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _status_title(status: int) -> str:
    return HTTP_STATUS_CODES.get(status, "Error")


def client_language() -> str:
    return request.accept_languages.best_match(API_LANGUAGES) or "en"


def _message(error: DomainError) -> str:
    with force_locale(client_language()):
        return str(error.message)


#: domain error class -> (problem kind, title); the first match in this order wins
_DOMAIN_KINDS: list[tuple[type[DomainError], str, str]] = [
    (PermissionDenied, "permission-denied", "Not allowed"),
    (NotFound, "not-found", "Not found"),
    (InsufficientBudget, "insufficient-budget", "Not enough budget"),
    (IllegalTransition, "illegal-transition", "Not possible in this state"),
    (Conflict, "conflict", "Conflict"),
]


def _domain_problem(error: DomainError) -> Response:
    db.get_session().rollback()
    detail = _message(error)
    for cls, kind, title in _DOMAIN_KINDS:
        if isinstance(error, cls):
            errors = {error.field: [detail]} if error.field else None
            return problem_response(
                error.status_code, detail, kind=kind, title=title, errors=errors
            )
    # A plain DomainError: the request was well formed, but a business rule refuses it.
    return problem_response(
        422,
        detail,
        kind="rule-violated",
        title="Refused by a rule",
        errors={error.field or "body": [detail]},
    )


def _http_problem(error: HTTPException) -> Response:
    db.get_session().rollback()
    status = error.code or 500
    headers: dict[str, str] = {}
    detail = error.description or _status_title(status)
    if status == 405:
        allowed = getattr(error, "valid_methods", None) or []
        headers["Allow"] = ", ".join(sorted(allowed))
    if status >= 500:
        detail = "Something went wrong on our side. It has been logged; try again later."
    return problem_response(status, detail, headers=headers)


def register_problem_handlers(bp: Blueprint) -> None:
    """Make every error under the blueprint a problem response.

    Flask looks up handlers by status code before class, across the blueprint and then the
    app: the app's HTML pages for 400-500 would win over a blueprint's HTTPException handler,
    so a handler is registered here for every status code werkzeug knows.
    """

    @bp.errorhandler(ApiProblem)
    def _api_problem(error: ApiProblem):  # type: ignore[no-untyped-def]
        db.get_session().rollback()
        return problem_response(
            error.status,
            error.detail,
            kind=error.kind,
            title=error.title,
            errors=error.errors,
            headers=error.headers,
        )

    @bp.errorhandler(RequestInvalid)
    def _invalid(error: RequestInvalid):  # type: ignore[no-untyped-def]
        db.get_session().rollback()
        return problem_response(
            400, error.detail, kind="invalid-request", title="Invalid request", errors=error.errors
        )

    @bp.errorhandler(InvalidToken)
    def _invalid_token(error: InvalidToken):  # type: ignore[no-untyped-def]
        db.get_session().rollback()
        return problem_response(
            401,
            error.detail,
            kind="invalid-token",
            title="Authentication required",
            headers={"WWW-Authenticate": 'Bearer realm="e-Order API"'},
        )

    bp.register_error_handler(DomainError, _domain_problem)
    bp.register_error_handler(HTTPException, _http_problem)
    for code in default_exceptions:
        bp.register_error_handler(code, _http_problem)

"""The API blueprint and what every endpoint shares: bearer-token authentication, scopes,
JSON bodies checked against the published schemas, and the paginated list envelope.

A request authenticates only by its bearer token, never by a session cookie, so CSRF does
not apply here. It acts as the token's owner, with exactly that person's permissions,
further limited by the token's scopes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request, url_for

from marketplace.accounts.models import User
from marketplace.api import tokens
from marketplace.api.problems import ApiProblem, register_problem_handlers
from marketplace.api.schemas import Schema
from marketplace.api.validation import RequestInvalid, check_body
from marketplace.db import get_session
from marketplace.errors import PermissionDenied
from marketplace.extensions import csrf
from marketplace.permissions import has_any_permission

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Only bearer tokens authenticate here; a forged cross-site request carries none.
csrf.exempt(bp)
register_problem_handlers(bp)

F = TypeVar("F", bound=Callable[..., Any])
#: endpoints anyone may call without a token
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
#: bodies beyond this are refused before they are read (the app's own limit is for uploads)
MAX_BODY_BYTES = 256 * 1024


# Authentication and scopes ----------------------------------------------------------


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    session = get_session()
    token = tokens.authenticate(session, request.headers.get("Authorization"))
    session.commit()  # keeps the last-used time; nothing else has happened yet
    g.api_token = token
    g.api_user = token.user


def api_user() -> User:
    return g.api_user


def token_scopes() -> list[str]:
    return list(g.api_token.scopes or [])


def scope_required(scope: str) -> Callable[[F], F]:
    """403 unless the request's token carries `scope`."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if scope not in token_scopes():
                raise ApiProblem(
                    403,
                    f"This token does not have the {scope} scope.",
                    kind="insufficient-scope",
                    title="Scope missing",
                    headers={
                        "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'
                    },
                )
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def require_permission(permission: str) -> None:
    """The same gate as the pages' `permission_required`: the role somewhere, else 403."""
    if not has_any_permission(api_user(), permission):
        raise PermissionDenied("Your roles do not allow this.")


# Request bodies and pages -----------------------------------------------------------


def json_body(schema: Schema, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object checked against `schema`; 413, 415 or 400 otherwise."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiProblem(413, f"Send at most {MAX_BODY_BYTES} bytes.")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiProblem(413, f"Send at most {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        if optional:
            return {}
        raise RequestInvalid({"body": ["Send a JSON object."]}, "The request needs a JSON body.")
    if not request.is_json:
        raise ApiProblem(415, "Send the body as application/json.", kind="unsupported-media-type")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise RequestInvalid(
            {"body": ["Send valid JSON."]}, "The body is not valid JSON."
        ) from None
    return check_body(data, schema)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def page_response(
    items: list[Any], total: int, params: dict[str, Any], status: int = 200
) -> tuple[Any, int]:
    """The list envelope: data, page, per_page, total and links to the neighbouring pages."""
    page, per_page = params["page"], params["per_page"]
    kept = {
        key: value
        for key, value in params.items()
        if key not in ("page", "per_page") and value not in (None, "")
    }

    def link(number: int) -> str:
        return url_for(
            request.endpoint or "api.openapi_document",
            **(request.view_args or {}),
            **kept,
            page=number,
            per_page=per_page,
        )

    return jsonify(
        data=items,
        page=page,
        per_page=per_page,
        total=total,
        links={
            "self": link(page),
            "next": link(page + 1) if page * per_page < total else None,
            "prev": link(min(page - 1, max(1, -(-total // per_page)))) if page > 1 else None,
        },
    ), status


def offset(params: dict[str, Any]) -> int:
    return (params["page"] - 1) * params["per_page"]

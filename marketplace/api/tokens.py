"""API tokens: created for one person with scopes, shown once, stored as a hash, revocable.

A token is "eo_" followed by 43 random URL-safe characters. Only its SHA-256 is kept, with
the first characters as a visible prefix so that a person can tell their tokens apart. A
request presents it as `Authorization: Bearer <token>` and acts as that person, with that
person's permissions, further limited to the token's scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from catalog.db import utcnow
from marketplace.accounts.models import User
from marketplace.api.models import ApiToken
from marketplace.audit.services import record_event
from marketplace.errors import DomainError, NotFound

TOKEN_MARK = "eo_"  # noqa: S105  (a public marker, not a secret)
PREFIX_LENGTH = 8
#: how often last_used_at is written: a busy integration should not write on every request
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 200

#: every scope, with what it allows, in the order the token page lists them
SCOPES = {
    "catalog:read": _l("Search the catalogue and read products"),
    "orders:read": _l("Read orders the person can see"),
    "orders:write": _l("Place orders and take the steps the person may take on them"),
    "budgets:read": _l("Read budget lines and their ledgers"),
    "payments:read": _l("Read payments"),
}


class InvalidToken(Exception):
    """The request's token is missing, unknown, revoked or expired (HTTP 401)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    user: User,
    name: str,
    scopes: list[str],
    *,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns it with the secret, which is never stored."""
    now = now or utcnow()
    name = " ".join(name.split())
    if not name:
        raise DomainError(_l("Give the token a name, e.g. the system that will use it."), "name")
    if len(name) > 100:
        raise DomainError(_l("Use at most 100 characters."), "name")
    chosen = [scope for scope in SCOPES if scope in set(scopes)]
    if not chosen or len(chosen) != len(set(scopes)):
        raise DomainError(_l("Choose at least one of the scopes offered."), "scopes")
    if expires_at is not None and expires_at <= now:
        raise DomainError(_l("The expiry date must be in the future."), "expires_at")
    secret = TOKEN_MARK + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        token_hash=hash_token(secret),
        scopes=chosen,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record_event(
        session,
        user,
        "api_token.create",
        "api_token",
        token.id,
        after={
            "name": name,
            "prefix": token.prefix,
            "scopes": chosen,
            "expires_at": _iso(expires_at),
        },
    )
    return token, secret


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """The person's tokens, live ones first, newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id)
        )
    )


def revoke_token(
    session: Session, user: User, token_id: int, *, now: datetime | None = None
) -> ApiToken:
    """Revoke one of the person's own tokens; revoking twice changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_l("No such token."))
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
        record_event(
            session,
            user,
            "api_token.revoke",
            "api_token",
            token.id,
            after={"name": token.name, "prefix": token.prefix},
        )
    return token


def is_live(token: ApiToken, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def authenticate(
    session: Session, authorization: str | None, *, now: datetime | None = None
) -> ApiToken:
    """The live token named by an `Authorization: Bearer` header, or InvalidToken.

    The lookup is by the SHA-256 of the presented secret, so the database comparison never
    sees the secret itself and its timing tells nothing about stored tokens; the final
    comparison is constant-time besides. Marks the token used (at most once a minute).
    """
    now = now or utcnow()
    scheme, _, secret = (authorization or "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise InvalidToken("Send an API token as 'Authorization: Bearer <token>'.")
    if len(secret) > MAX_TOKEN_LENGTH or not secret.isascii():
        raise InvalidToken("The API token is not valid.")
    digest = hash_token(secret)
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        raise InvalidToken("The API token is not valid.")
    if token.revoked_at is not None:
        raise InvalidToken("The API token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise InvalidToken("The API token has expired.")
    if not token.user.is_active:
        raise InvalidToken("The account of this API token is disabled.")
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_PRECISION:
        # Guarded, so that concurrent requests of one integration write once a minute at most.
        session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token.id,
                or_(
                    ApiToken.last_used_at.is_(None),
                    ApiToken.last_used_at <= now - LAST_USED_PRECISION,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(token, "last_used_at", now)
    return token


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None

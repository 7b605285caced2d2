"""API test helpers: tokens for the world's people and bearer headers."""

from __future__ import annotations

import pytest

from marketplace.api import tokens
from marketplace.api.schemas import ALL_SCOPES

API = "/api/v1"


def bearer(secret: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **extra}


@pytest.fixture
def make_token(db):  # type: ignore[no-untyped-def]
    """make_token(user, scopes=every scope, expires_at=None) -> the token's secret."""

    def _make(user, scopes=ALL_SCOPES, **kwargs) -> str:  # type: ignore[no-untyped-def]
        _token, secret = tokens.create_token(db, user, "Test integration", list(scopes), **kwargs)
        return secret

    return _make


@pytest.fixture
def api(client, make_token):  # type: ignore[no-untyped-def]
    """api(user).get(path) / .post(path, json=...) with a fresh token of `user`."""

    class _Api:
        def __init__(self, user, scopes=ALL_SCOPES) -> None:  # type: ignore[no-untyped-def]
            self.secret = make_token(user, scopes)

        def get(self, path: str, headers=None, **kwargs):  # type: ignore[no-untyped-def]
            return client.get(API + path, headers=bearer(self.secret, **(headers or {})), **kwargs)

        def post(self, path: str, headers=None, **kwargs):  # type: ignore[no-untyped-def]
            return client.post(API + path, headers=bearer(self.secret, **(headers or {})), **kwargs)

    return _Api

"""The login form's `next`: only a path on this site is followed; every trick that a browser
would read as another host lands on the home page instead."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from marketplace.security import safe_next_url
from tests.support import PASSWORD

HOSTILE = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil",
    "https:evil.example",
    "http://evil.example",
    "https://evil.example/orders",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%5Cevil",
    "%252F%252Fevil.example",
    "%09//evil",
    "/\t/evil",
    " //evil",
    "////evil",
    "https://127.0.0.1:1@evil",
    "//127.0.0.1:1@evil",
    "/\\/evil.example",
    "/%0d%0aLocation:%20http://evil.example",
    "\r\n//evil",
    "evil.example",
    "data:text/html,<script>alert(1)</script>",
]
GOOD = ["/orders", "/orders?status=submitted", "/catalog/products/1"]


def _lands_on_site(location: str) -> bool:
    parts = urlsplit(location)
    return (
        parts.scheme in ("", "http")
        and parts.netloc in ("", "localhost")
        and parts.path.startswith("/")
        and not parts.path.startswith("//")
        and "\\" not in location
        and "evil" not in location
    )


@pytest.mark.parametrize("target", HOSTILE)
def test_a_hostile_next_falls_back_to_the_default(target):
    assert safe_next_url(target, "/") == "/"


@pytest.mark.parametrize("target", GOOD)
def test_a_path_on_the_site_is_kept(target):
    assert safe_next_url(target, "/") == target


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_redirects_off_the_site(client, db, world, target):
    db.commit()
    response = client.post(
        f"/login?next={quote(target, safe='')}",
        data={"email": world.requester.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert _lands_on_site(location), location
    assert urlsplit(location).path == "/"


@pytest.mark.parametrize("target", GOOD)
def test_login_follows_a_good_next(client, db, world, target):
    db.commit()
    response = client.post(
        f"/login?next={quote(target, safe='')}",
        data={"email": world.requester.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == target


def test_the_round_trip_through_login_returns_to_the_page(client, db, world):
    """A protected page sends to the login form with its own next, which is then followed."""
    db.commit()
    to_login = client.get("/orders?status=submitted")
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    assert urlsplit(login_url).path == "/login"
    response = client.post(login_url, data={"email": world.requester.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/orders?status=submitted"

"""The page layout around the catalogue, rendered once per person and kept.

The catalogue's result area is kept per query (marketplace/shop/fragments.py); around it, the
layout (header, menu, account links, footer, scripts) depends only on the person, their roles,
language and unread count, and on four values of the request: the CSRF token, the CSP nonce,
the path the language switch returns to, and the page's own content. So the layout is rendered
once with markers in those four places and kept in pieces (`LAYOUTS_KEPT` per process); a
request joins the pieces with its own values. A request with flashed messages to show renders
the whole page as usual.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from marketplace.http_security import csp_nonce

#: laid-out pages kept per process (a few KB each), least recently used first out
LAYOUTS_KEPT = 1024
#: per-request values, by the name of the marker that stands for them in a kept layout
SLOTS = ("content", "csrf", "nonce", "return")
#: what marks a slot in a rendered layout: random per process, so that no text a person enters
#: (a name, a query) can pass for one
_PREFIX = f"\x00layout-slot-{secrets.token_hex(8)}:"
_MARKER = _PREFIX + "{}\x00"


def return_path() -> str:
    """Where the language switch brings the person back to: this page when it was a page view."""
    from flask import url_for

    return request.full_path if request.method == "GET" else url_for("main.home")


class Layouts:
    """Rendered layouts in pieces: literal text, and slot names between them."""

    def __init__(self, size: int = LAYOUTS_KEPT) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[str, ...] | None:
        with self._lock:
            pieces = self._kept.get(key)
            if pieces is not None:
                self._kept.move_to_end(key)
            return pieces

    def put(self, key: Hashable, pieces: tuple[str, ...]) -> None:
        with self._lock:
            self._kept[key] = pieces
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)


layouts = Layouts()


def unread_in_header() -> int:
    """The signed-in person's unread notifications, as the page header shows them."""
    from flask import g

    from marketplace.db import get_session
    from marketplace.notifications.services import unread_count

    if not current_user.is_authenticated:
        return 0
    counted = g.get("unread_notifications")
    # A page view that writes (see db.will_write) may have notified this person.
    if counted is not None and not g.get("db_will_write", False):
        return int(counted)
    return unread_count(get_session(), current_user)


def render_in_kept_layout(template: str, content: Markup) -> str:
    """`template` (which shows `content` and extends base.html) for the signed-in person, from a
    kept layout when there is one."""
    if session.get("_flashes"):
        return render_template(template, content=content)
    key = (
        template,
        str(get_locale()),
        request.script_root,
        request.method,
        current_user.id,
        current_user.name,
        frozenset(current_user.all_roles),
        unread_in_header(),
    )
    pieces = layouts.get(key)
    if pieces is None:
        pieces = _split(
            render_template(
                template,
                content=Markup(_MARKER.format("content")),  # noqa: S704 (no user text)
                csrf_token=lambda: Markup(_MARKER.format("csrf")),  # noqa: S704
                csp_nonce=lambda: Markup(_MARKER.format("nonce")),  # noqa: S704
                return_path=lambda: Markup(_MARKER.format("return")),  # noqa: S704
            )
        )
        layouts.put(key, pieces)
    values = {
        "content": str(content),
        "csrf": str(escape(generate_csrf())),
        "nonce": str(escape(csp_nonce())),
        "return": str(escape(return_path())),
    }
    # Odd positions are slot names (see _split).
    return "".join(values[piece] if n % 2 else piece for n, piece in enumerate(pieces))


def _split(html: str) -> tuple[str, ...]:
    """The rendered text cut at each marker: text, slot name, text, slot name, ..., text."""
    pieces: list[str] = []
    rest = html
    while True:
        start = rest.find(_PREFIX)
        if start < 0:
            pieces.append(rest)
            return tuple(pieces)
        end = rest.index("\x00", start + 1)
        name = rest[start + len(_PREFIX) : end]
        if name not in SLOTS:
            raise ValueError(f"unknown layout slot {name!r}")
        pieces.extend((rest[:start], name))
        rest = rest[end + 1 :]

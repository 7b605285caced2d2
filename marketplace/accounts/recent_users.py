"""Signed-in people kept in memory for a few seconds, for the catalogue's page views.

Someone choosing catering pages through results, opens products and types a search (each
keystroke asks for suggestions): many requests in a few seconds, and each would read the
person, their memberships and their unread count from the database again. For those read-only
views only (`CACHED_ENDPOINTS`), the person loaded by an earlier one is used again for up to
`USER_CACHE_SECONDS` (10 by default, 0 turns it off), in this process.

What that delays, and what it does not:
- Any request that may change something (every method but GET and HEAD), and every other page,
  reads the person afresh: a deactivated account or an ended session can do nothing, and sees
  nothing but the catalogue, from the moment the change is committed.
- On the catalogue's views, a deactivation, "log out everywhere" or a changed role made by
  someone else shows within that many seconds; so does a notification sent by someone else in
  the header's unread count.
- The person's own changes show at once: each request of theirs that may change something
  gives their session a new random mark (`WRITE_MARK`), and the mark is part of the key, so
  the next page view after it reads them again on whichever node serves it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING

from sqlalchemy import inspect

if TYPE_CHECKING:
    from marketplace.accounts.models import User

#: the read-only catalogue views that may use a person loaded a few seconds ago
CACHED_ENDPOINTS = frozenset({"shop.index", "shop.suggest", "shop.product", "shop.vendor"})
#: the session key whose random value changes with each of the person's requests that may
#: have changed something
WRITE_MARK = "_w"
#: people kept per process at most; the least recently used goes first
SIZE = 2048


class RecentUsers:
    """People loaded in the last `seconds`, by (login key, write mark)."""

    def __init__(self, seconds: float, size: int = SIZE) -> None:
        self.seconds = seconds
        self.size = size
        self._kept: OrderedDict[Hashable, tuple[float, User]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> User | None:
        with self._lock:
            entry = self._kept.get(key)
            if entry is None:
                return None
            loaded_at, user = entry
            if time.monotonic() - loaded_at >= self.seconds:
                del self._kept[key]
                return None
            if inspect(user).session_id is not None:
                # The request that loaded it is still running (a threaded server): not yet.
                return None
            if not _complete(user):
                del self._kept[key]
                return None
            self._kept.move_to_end(key)
            return user

    def put(self, key: Hashable, user: User) -> None:
        with self._lock:
            self._kept[key] = (time.monotonic(), user)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def _complete(user: User) -> bool:
    """The person is usable outside the request that loaded it: detached from its session, with
    nothing expired (a rollback in that request expires everything) or changed."""
    memberships = user.__dict__.get("memberships", ())
    related = [m.__dict__.get(name) for m in memberships for name in ("agency", "vendor")]
    for obj in (user, *memberships, *(item for item in related if item is not None)):
        state = inspect(obj)
        if not state.detached or state.expired_attributes or state.modified:
            return False
    return "memberships" in user.__dict__ and hasattr(user, "unread_notifications_at_load")

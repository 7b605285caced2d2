"""Rendered parts of catalogue pages kept in memory, per version of the search index.

The result area of the catalogue (facets, cards, pager) is the same for everyone who asks the
same query in the same language: it is built from the search index and the products it names,
and any change to those products changes the index's version (see catalog.search). So a part
rendered for one version is reused until the index changes, and forgotten after.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from markupsafe import Markup

#: rendered parts kept per process, at most this many ...
FRAGMENTS_KEPT = 1024
#: ... and this many characters (a catalogue page's part is 10-30,000)
CHARACTERS_KEPT = 16 * 1024 * 1024


class FragmentCache:
    """A bounded, thread-safe LRU of rendered HTML keyed by (index version, anything else)."""

    def __init__(self, size: int = FRAGMENTS_KEPT, characters: int = CHARACTERS_KEPT) -> None:
        self.size = size
        self.characters = characters
        self._items: OrderedDict[tuple[int, Hashable], Markup] = OrderedDict()
        self._held = 0  # characters in _items
        self._newest = 0
        self._lock = threading.Lock()

    def get(self, version: int, key: Hashable) -> Markup | None:
        with self._lock:
            html = self._items.get((version, key))
            if html is not None:
                self._items.move_to_end((version, key))
            return html

    def put(self, version: int, key: Hashable, html: Markup) -> None:
        with self._lock:
            if version > self._newest:
                # The index changed: what earlier versions rendered will not be asked for again.
                self._items.clear()
                self._held = 0
                self._newest = version
            if len(html) > self.characters:
                return
            previous = self._items.pop((version, key), None)
            self._held -= len(previous) if previous is not None else 0
            self._items[(version, key)] = html
            self._held += len(html)
            while len(self._items) > self.size or self._held > self.characters:
                _, dropped = self._items.popitem(last=False)
                self._held -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._held = 0

    def __len__(self) -> int:
        return len(self._items)


catalogue_fragments = FragmentCache()

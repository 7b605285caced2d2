"""Rendered parts of catalogue pages kept in memory, per version of the search index.

The result area of the catalogue (facets, cards, pager) is the same for everyone who asks the
same query in the same language: it is built from the search index and the products it names,
and any change to those products changes the index's version (see catalog.search). So a part
rendered for one version is reused until the index changes, and forgotten after.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

from markupsafe import Markup

log = logging.getLogger(__name__)

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


#: parts each process writes to the shared directory per index version, at most
SHARED_FRAGMENTS_WRITTEN = 1024


class SharedFragments:
    """Rendered parts in files, shared by the processes (workers) serving one search index.

    Each worker would otherwise render every query once for itself. Files sit in a directory
    per index version name; a process that sees a new version removes the other versions'
    directories. Each process writes at most `SHARED_FRAGMENTS_WRITTEN` files per version.
    A file that cannot be read or written is simply not shared.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._version = ""
        self._written = 0
        self._lock = threading.Lock()

    def _path(self, version: str, key: Hashable) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()
        return self.directory / version / f"{digest}.html"

    def get(self, version: str, key: Hashable) -> Markup | None:
        try:
            text = self._path(version, key).read_text(encoding="utf-8")
        except OSError:
            return None
        # Written by `put` from a rendered template (escaped), or a part that failed to write.
        return Markup(text) if text else None  # noqa: S704

    def put(self, version: str, key: Hashable, html: Markup) -> None:
        with self._lock:
            if version != self._version:
                self._forget_other_versions(version)
                self._version, self._written = version, 0
            if self._written >= SHARED_FRAGMENTS_WRITTEN:
                return
            self._written += 1
        path = self._path(version, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
            ) as out:
                out.write(str(html))
            os.replace(out.name, path)  # readers see the whole file or none
        except OSError:
            log.warning("catalogue part not shared: %s", path, exc_info=True)

    def _forget_other_versions(self, version: str) -> None:
        try:
            others = [d for d in self.directory.iterdir() if d.is_dir() and d.name != version]
        except OSError:
            return
        for other in others:
            shutil.rmtree(other, ignore_errors=True)


_shared: dict[str, SharedFragments] = {}


def shared_fragments(search_index_dir: str) -> SharedFragments:
    """The shared parts of the processes serving the index in `search_index_dir`."""
    store = _shared.get(search_index_dir)
    if store is None:
        index = Path(search_index_dir)
        store = _shared[search_index_dir] = SharedFragments(index.with_name(f"{index.name}-pages"))
    return store

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


#: files in the shared directory per index version, at most (each 10-30 KB)
SHARED_FRAGMENTS_KEPT = 1024


class SharedFragments:
    """Rendered parts in files, shared by the processes (workers) serving one search index.

    Each worker would otherwise render every query once for itself. Files sit in a directory
    per index version name (prefixed with the code's fingerprint, so a deploy of new templates
    or code never serves what the old code rendered); a process that sees a new version removes
    the other versions' directories. A version's directory holds at most
    `SHARED_FRAGMENTS_KEPT` files, counted on disk, so restarted workers do not add more.
    A file that cannot be read or written is simply not shared.
    """

    def __init__(self, directory: str | os.PathLike[str], build: str = "") -> None:
        self.directory = Path(directory)
        self.build = build
        self._version = ""
        self._lock = threading.Lock()

    def _folder(self, version: str) -> Path:
        return self.directory / (f"{self.build}-{version}" if self.build else version)

    def _path(self, version: str, key: Hashable) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()
        return self._folder(version) / f"{digest}.html"

    def get(self, version: str, key: Hashable) -> Markup | None:
        try:
            text = self._path(version, key).read_text(encoding="utf-8")
        except OSError:
            return None
        # Written by `put` from a rendered template (escaped), or a part that failed to write.
        return Markup(text) if text else None  # noqa: S704

    def put(self, version: str, key: Hashable, html: Markup) -> None:
        folder = self._folder(version)
        with self._lock:
            if version != self._version:
                self._forget_others(folder.name)
                self._version = version
        path = self._path(version, key)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with os.scandir(folder) as entries:
                if sum(1 for _ in entries) >= SHARED_FRAGMENTS_KEPT:
                    return
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=folder, suffix=".tmp", delete=False
            ) as out:
                temporary = out.name
                out.write(str(html))
            os.replace(temporary, path)  # readers see the whole file or none
        except OSError:
            log.warning("catalogue part not shared: %s", path, exc_info=True)
            if "temporary" in locals():
                Path(temporary).unlink(missing_ok=True)

    def _forget_others(self, keep: str) -> None:
        try:
            others = [d for d in self.directory.iterdir() if d.is_dir() and d.name != keep]
        except OSError:
            return
        for other in others:
            shutil.rmtree(other, ignore_errors=True)


def code_fingerprint(*roots: str | os.PathLike[str]) -> str:
    """A short digest of the names, sizes and modification times of the files under `roots`
    (templates, translations, the application's code): it changes with every deploy."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file() and path.suffix in {".html", ".py", ".mo", ".txt"}:
                info = path.stat()
                digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


_shared: dict[tuple[str, str], SharedFragments] = {}


def shared_fragments(search_index_dir: str, build: str = "") -> SharedFragments:
    """The shared parts of the processes serving the index in `search_index_dir` with the
    code identified by `build` (see `code_fingerprint`)."""
    store = _shared.get((search_index_dir, build))
    if store is None:
        index = Path(search_index_dir)
        store = SharedFragments(index.with_name(f"{index.name}-pages"), build)
        _shared[(search_index_dir, build)] = store
    return store

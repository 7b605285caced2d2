"""Small security helpers shared by views."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def safe_next_url(target: str | None, default: str) -> str:
    """Return `target` only if it is a path on this site; anything else gives `default`.

    Refuses absolute and scheme-relative URLs, backslash tricks that browsers read as
    slashes, control characters, and the same tricks hidden behind percent-encoding.
    """
    if not target:
        return default
    for candidate in (target, unquote(target), unquote(unquote(target))):
        if any(ord(ch) < 32 or ch == "\\" for ch in candidate):
            return default
        if not candidate.startswith("/") or candidate.startswith("//"):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return default
    return target

"""Serving stored product photos, with long cache lifetimes (their names never change)."""

from __future__ import annotations

from flask import Blueprint, abort, send_file

from catalog.photos import photo_path
from marketplace.web import upload_dir

bp = Blueprint("media", __name__, url_prefix="/media")
ONE_YEAR = 365 * 24 * 3600


@bp.get("/photos/<filename>")
def photo(filename: str):  # type: ignore[no-untyped-def]
    path = photo_path(upload_dir("photos"), filename)
    if path is None:
        abort(404)
    response = send_file(path, max_age=ONE_YEAR, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

"""Pages of the taxes feature."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("taxes", __name__)

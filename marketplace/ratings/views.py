"""Pages of the ratings feature."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ratings", __name__)

"""The notification list and marking it read."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from marketplace.db import get_session
from marketplace.notifications import services

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    db = get_session()
    return render_template(
        "notifications/index.html",
        notifications=services.latest(db, current_user),
        message=services.message,
    )


@bp.post("/read")
@login_required
def mark_read():  # type: ignore[no-untyped-def]
    db = get_session()
    services.mark_all_read(db, current_user)
    db.commit()
    return redirect(url_for("notifications.index"))

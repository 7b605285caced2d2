"""The notification list, marking it read, and each person's e-mail preferences."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.db import get_session
from marketplace.notifications import preferences, services
from marketplace.notifications.models import Delivery
from marketplace.notifications.outbox import install_inline_sending

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.record_once
def _send_inline_in_development(state) -> None:  # type: ignore[no-untyped-def]
    install_inline_sending(state.app)


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


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences_page():  # type: ignore[no-untyped-def]
    db = get_session()
    if request.method == "POST":
        choices = {
            key.removeprefix("kind-"): value
            for key, value in request.form.items()
            if key.startswith("kind-")
        }
        preferences.save_choices(db, current_user, choices)
        db.commit()
        flash(_("Your e-mail choices are saved."), "success")
        return redirect(url_for("notifications.preferences_page"))
    return render_template(
        "notifications/preferences.html",
        choices=preferences.current_choices(db, current_user),
        deliveries=[
            (Delivery.IMMEDIATE, _("At once")),
            (Delivery.DIGEST, _("In the daily digest")),
            (Delivery.NONE, _("No e-mail")),
        ],
    )

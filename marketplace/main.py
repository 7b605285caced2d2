"""The home page for each person, and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import func, select

from marketplace.db import get_session
from marketplace.ordering.models import Order
from marketplace.ordering.services import approval_queue, cart_orders, visible_orders_query
from marketplace.ordering.states import OrderStatus
from marketplace.permissions import has_any_permission
from marketplace.security import safe_next_url

bp = Blueprint("main", __name__)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    db = get_session()
    counts = dict(
        db.execute(
            visible_orders_query(current_user)
            .with_only_columns(Order.status, func.count())
            .group_by(Order.status)
        ).all()
    )
    queue = (
        approval_queue(db, current_user)
        if has_any_permission(current_user, "order:approve")
        or has_any_permission(current_user, "order:approve_second")
        else []
    )
    cart = cart_orders(db, current_user) if has_any_permission(current_user, "order:submit") else []
    recent = list(db.scalars(visible_orders_query(current_user).order_by(Order.id.desc()).limit(8)))
    return render_template(
        "main/home.html",
        counts=counts,
        queue=queue,
        cart=cart,
        recent=recent,
        statuses=OrderStatus,
    )


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next_url(request.form.get("next"), url_for("main.home")))


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    get_session().execute(select(1))
    return {"status": "ok"}

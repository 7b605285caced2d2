"""The home page for each person, and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from marketplace import home as sections
from marketplace.accounts.models import Role
from marketplace.db import get_session
from marketplace.i18n import current_locale
from marketplace.security import safe_next_url
from marketplace.web import order_rules, today_in_jakarta

bp = Blueprint("main", __name__)

AGENCY_APPROVERS = {Role.APPROVER, Role.BUDGET_HOLDER}
VENDOR_PEOPLE = {Role.VENDOR_OWNER, Role.VENDOR_STAFF}


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    db = get_session()
    roles = current_user.all_roles
    rules = order_rules()
    today = today_in_jakarta()
    context: dict[str, object] = {"today": today}
    if Role.REQUESTER in roles:
        context["requester"] = sections.requester_home(db, current_user)
    if roles & AGENCY_APPROVERS:
        context["approver"] = sections.approver_home(db, current_user, rules.receipt_due_days)
    if roles & VENDOR_PEOPLE:
        context["vendor"] = sections.vendor_home(db, current_user, today, rules.payment_due_days)
    if Role.TREASURER in roles:
        context["treasurer"] = sections.treasurer_home(db, current_user, rules.payment_due_days)
    if Role.FINANCE in roles:
        context["finance"] = sections.finance_home(
            db, current_user, today, rules.payment_due_days, current_locale()
        )
    if Role.CURATOR in roles:
        context["curator"] = sections.curator_home(db)
    context["auditor"] = Role.AUDITOR in roles
    return render_template("main/home.html", **context)


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

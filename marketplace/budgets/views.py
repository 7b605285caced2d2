"""Budget lines of one's agency and the ledger of each line."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from marketplace.budgets import services
from marketplace.db import get_session
from marketplace.web import permission_required

bp = Blueprint("budgets", __name__, url_prefix="/budgets")


@bp.get("/")
@permission_required("budget:view")
def index():  # type: ignore[no-untyped-def]
    return render_template(
        "budgets/index.html", lines=services.visible_budget_lines(get_session(), current_user)
    )


@bp.get("/<int:line_id>")
@permission_required("budget:view")
def line(line_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    budget_line = services.get_visible_line(db, current_user, line_id)
    return render_template(
        "budgets/line.html", line=budget_line, entries=services.ledger(db, budget_line)
    )

"""Budget lines of one's agency and the ledger of each line."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from marketplace.accounts.models import Agency
from marketplace.accounts.recent import recent_login_required
from marketplace.budgets import services
from marketplace.budgets.forms import AllocationForm, CloseYearForm, NewLineForm
from marketplace.db import get_session
from marketplace.errors import DomainError
from marketplace.web import permission_required, show_error, today_in_jakarta

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
    can_manage = services.can_manage_budgets(current_user, budget_line.agency_id)
    form = AllocationForm(allocation=budget_line.allocation) if can_manage else None
    return render_template(
        "budgets/line.html",
        line=budget_line,
        entries=services.ledger(db, budget_line),
        allocation_form=form,
        can_manage=can_manage,
    )


def _managed_agencies(db):  # type: ignore[no-untyped-def]
    ids = sorted(
        m.agency_id
        for m in current_user.memberships
        if m.agency_id is not None and services.can_manage_budgets(current_user, m.agency_id)
    )
    return [db.get(Agency, i) for i in dict.fromkeys(ids)]


@bp.route("/new", methods=["GET", "POST"])
@permission_required("budget:manage")
@recent_login_required
def new_line():  # type: ignore[no-untyped-def]
    db = get_session()
    form = NewLineForm()
    form.agency_id.choices = [(a.id, a.name) for a in _managed_agencies(db)]
    if request.method == "GET":
        form.fiscal_year.data = today_in_jakarta().year
    if form.validate_on_submit():
        data = services.NewBudgetLine(
            account_code=form.account_code.data or "",
            name=form.name.data or "",
            activity=form.activity.data or "",
            fiscal_year=form.fiscal_year.data,
            allocation=form.allocation.data,
        )
        try:
            budget_line = services.create_line(db, current_user, form.agency_id.data, data)
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(
                _("The budget line %(code)s is created.", code=budget_line.account_code), "success"
            )
            return redirect(url_for("budgets.line", line_id=budget_line.id))
    status = 400 if request.method == "POST" else 200
    return render_template("budgets/new.html", form=form), status


@bp.post("/<int:line_id>/allocation")
@permission_required("budget:manage")
@recent_login_required
def change_allocation(line_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    budget_line = services.get_visible_line(db, current_user, line_id)
    services.require_open(budget_line)  # a closed year is a 409 page, not a form to fix
    form = AllocationForm()
    if form.validate_on_submit():
        try:
            services.change_allocation(
                db, current_user, budget_line, form.allocation.data, form.reason.data or ""
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("The allocation is changed and the change is in the ledger."), "success")
            return redirect(url_for("budgets.line", line_id=budget_line.id))
    return render_template(
        "budgets/line.html",
        line=budget_line,
        entries=services.ledger(db, budget_line),
        allocation_form=form,
        can_manage=True,
    ), 400


@bp.post("/<int:line_id>/freeze")
@permission_required("budget:manage")
@recent_login_required
def freeze(line_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    budget_line = services.get_visible_line(db, current_user, line_id)
    frozen = request.form.get("frozen") == "1"
    services.set_frozen(db, current_user, budget_line, frozen)
    db.commit()
    flash(
        _("The line is frozen: no new orders can be charged to it.")
        if frozen
        else _("The line is open for orders again."),
        "success",
    )
    return redirect(url_for("budgets.line", line_id=budget_line.id))


@bp.route("/close-year", methods=["GET", "POST"])
@permission_required("budget:manage")
@recent_login_required
def close_year():  # type: ignore[no-untyped-def]
    db = get_session()
    form = CloseYearForm()
    form.agency_id.choices = [(a.id, a.name) for a in _managed_agencies(db)]
    if request.method == "GET":
        form.fiscal_year.data = today_in_jakarta().year - 1
    if form.validate_on_submit():
        try:
            closed = services.close_fiscal_year(
                db, current_user, form.agency_id.data, form.fiscal_year.data
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(
                ngettext(
                    "%(num)d line is closed for good.",
                    "%(num)d lines are closed for good.",
                    len(closed),
                ),
                "success",
            )
            return redirect(url_for("budgets.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("budgets/close_year.html", form=form), status

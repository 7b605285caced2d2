"""Finance pages: the overview, exceptions and their explanations, reconciling paid orders,
payments against Stripe, budget ledgers against orders, and a Stripe event as evidence.
Reports, exports and closing periods are in report_views.py on the same blueprint."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from babel.numbers import get_decimal_symbol
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from marketplace.accounts.models import Agency
from marketplace.db import get_session
from marketplace.errors import DomainError, NotFound, PermissionDenied
from marketplace.finance import exceptions, reconciliation
from marketplace.finance.forms import ConfirmForm, ExplainForm
from marketplace.finance.queries import (
    PAGE_SIZE,
    FinanceScope,
    Period,
    is_province_finance,
    scope_for,
)
from marketplace.i18n import current_locale
from marketplace.ordering import services as ordering
from marketplace.payments.models import StripeEvent
from marketplace.permissions import can_reconcile
from marketplace.web import order_rules, permission_required, today_in_jakarta

bp = Blueprint("finance", __name__, url_prefix="/finance")


# Shared by every finance page --------------------------------------------------------


@lru_cache(maxsize=16)
def decimal_mark(locale: str) -> str:
    """The locale's decimal mark ("," in Indonesian), looked up once per locale."""
    return str(get_decimal_symbol(locale))


@bp.app_template_filter("permille")
def format_permille(value: int | None) -> str:
    """Tenths of a percent as "41,3%" (the locale's decimal mark), or a dash."""
    if value is None:
        return "–"
    return f"{value // 10}{decimal_mark(current_locale())}{value % 10}%"


@bp.app_template_filter("tenths")
def format_tenths(value: int | None) -> str:
    if value is None:
        return "–"
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 10}{decimal_mark(current_locale())}{value % 10}"


@bp.app_template_global("finance_page_url")
def finance_page_url(param: str, number: int) -> str:
    """This page's URL with its filters, at another page of one of its lists."""
    args = {**(request.view_args or {}), **request.args.to_dict(), param: number}
    if number <= 1:
        args.pop(param)
    return url_for(request.endpoint or "finance.index", **args)


def month_label(period: Period | None) -> str:
    if period is None:
        return _("All time")
    if period.month is None:
        return str(period.year)
    return format_date(period.first_day, "MMMM yyyy")


def requested_agency_id() -> int | None:
    return request.args.get("agency", type=int) or None


def current_scope() -> FinanceScope:
    """The scope of this request: the agency asked for, within what the user may see."""
    return scope_for(current_user, requested_agency_id())


def page_size() -> int:
    """Rows per page of the long lists (a test may ask for fewer)."""
    return int(current_app.config.get("FINANCE_PAGE_SIZE", PAGE_SIZE))


def requested_page(name: str = "page") -> int:
    return min(max(request.args.get(name, 1, type=int) or 1, 1), 1_000_000)


def requested_period() -> Period | None:
    return Period.parse(request.args.get("month"))


def filter_choices(*, months: int = 24) -> dict[str, object]:
    """Agencies (for province-wide users) and recent months for the filter forms."""
    today = today_in_jakarta()
    periods: list[Period] = []
    year, month = today.year, today.month
    for _i in range(months):
        periods.append(Period(year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    agencies: list[Any] = []
    if is_province_finance(current_user):
        # (id, name) rows: the filter needs no more of the hundreds of agencies
        agencies = list(
            get_session().execute(select(Agency.id, Agency.name).order_by(Agency.name, Agency.id))
        )
    return {
        "agencies": agencies,
        "agency_id": requested_agency_id(),
        "period_options": [(p.key, month_label(p)) for p in periods],
        "year_options": [str(today.year), str(today.year - 1)],
        "period": requested_period(),
        "period_label": month_label(requested_period()),
        "month_label": month_label,
    }


def due_days() -> int:
    return order_rules().payment_due_days


# Overview ----------------------------------------------------------------------------


@bp.get("/")
@permission_required("finance:view")
def index():  # type: ignore[no-untyped-def]
    db = get_session()
    scope, period = current_scope(), requested_period()
    per_agency, total, counted = reconciliation.overview_figures(db, scope, period)
    counts = exceptions.count_by_kind(
        db, scope, today=today_in_jakarta(), payment_due_days=due_days(), known=counted
    )
    return render_template(
        "finance/index.html",
        per_agency=per_agency,
        total=total,
        exception_counts=counts,
        open_exceptions=sum(counts.values()),
        kinds=exceptions.KINDS,
        waiting=reconciliation.count_waiting(db, scope),
        province_wide=scope.province_wide,
        **filter_choices(),
    )


# Exceptions --------------------------------------------------------------------------


def _exceptions_page(form: ExplainForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    db = get_session()
    scope = current_scope()
    rules = {"today": today_in_jakarta(), "payment_due_days": due_days()}
    open_page = exceptions.exception_page(
        db, scope, page=requested_page("page"), size=page_size(), **rules
    )
    explained_page = exceptions.exception_page(
        db, scope, page=requested_page("explained_page"), explained=True, size=page_size(), **rules
    )
    failed = None
    if form is not None and form.errors:
        failed = (form.kind.data, form.subject.data)
    return render_template(
        "finance/exceptions.html",
        open_page=open_page.page,
        explained_page=explained_page.page,
        kinds=exceptions.KINDS,
        can_explain=exceptions.can_explain(current_user),
        form=form if form is not None else ExplainForm(formdata=None),
        failed=failed,
        **filter_choices(),
    ), status


@bp.get("/exceptions")
@permission_required("finance:view")
def exception_list():  # type: ignore[no-untyped-def]
    return _exceptions_page()


@bp.post("/exceptions/explain")
@permission_required("finance:explain")
def explain():  # type: ignore[no-untyped-def]
    db = get_session()
    form = ExplainForm()
    if form.validate_on_submit():
        try:
            exceptions.explain(
                db,
                current_user,
                form.kind.data or "",
                form.subject.data or "",
                form.note.data or "",
                today=today_in_jakarta(),
                payment_due_days=due_days(),
            )
        except (PermissionDenied, NotFound):
            raise
        except DomainError as error:
            db.rollback()
            form.note.errors = [*form.note.errors, str(error.message)]
        else:
            db.commit()
            flash(_("The exception is marked explained, with your note."), "success")
            return redirect(url_for("finance.exception_list", _anchor="explained"))
    return _exceptions_page(form, 400)


# Reconciling paid orders -------------------------------------------------------------


@bp.get("/reconcile")
@permission_required("finance:view")
def reconcile_list():  # type: ignore[no-untyped-def]
    page = reconciliation.reconcile_page(
        get_session(), current_scope(), page=requested_page(), size=page_size()
    )
    return render_template(
        "finance/reconcile.html",
        page=page,
        checks=page.items,
        can_reconcile=lambda order: can_reconcile(current_user, order),
        form=ConfirmForm(formdata=None),
        **filter_choices(),
    )


@bp.post("/reconcile/<int:order_id>")
@permission_required("order:reconcile")
def reconcile(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Try again."), "error")
        return redirect(url_for("finance.reconcile_list"))
    order = ordering.get_visible_order(db, current_user, order_id)
    reconciliation.reconcile(db, current_user, order, scope_for(current_user))
    db.commit()
    flash(_("Order %(ref)s is reconciled.", ref=order.reference), "success")
    return redirect(url_for("finance.reconcile_list"))


# Payments vs Stripe, ledgers vs orders -----------------------------------------------


@bp.get("/payments")
@permission_required("finance:view")
def payments():  # type: ignore[no-untyped-def]
    view = reconciliation.payments_vs_stripe(
        get_session(),
        current_scope(),
        requested_period(),
        card_page=requested_page("card_page"),
        transfer_page=requested_page("transfer_page"),
        size=page_size(),
    )
    return render_template("finance/payments.html", view=view, **filter_choices())


@bp.get("/ledgers")
@permission_required("finance:view")
def ledgers():  # type: ignore[no-untyped-def]
    year = request.args.get("year", type=int)
    found = reconciliation.ledger_page(
        get_session(), current_scope(), year, page=requested_page(), size=page_size()
    )
    return render_template(
        "finance/ledgers.html",
        page=found.page,
        checks=found.page.items,
        year=year,
        differences=found.differences,
        **filter_choices(),
    )


@bp.get("/stripe-events/<event_id>")
@permission_required("finance:view")
def stripe_event(event_id: str):  # type: ignore[no-untyped-def]
    if not is_province_finance(current_user):
        raise NotFound(_("No such event."))
    event = get_session().get(StripeEvent, event_id)
    if event is None:
        raise NotFound(_("No such event."))
    return render_template(
        "finance/stripe_event.html",
        event=event,
        payload=json.dumps(event.payload, indent=2, sort_keys=True, ensure_ascii=False),
    )


from marketplace.finance import report_views  # noqa: E402, F401  (routes on this blueprint)

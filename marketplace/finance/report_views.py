"""Finance pages on the same blueprint: reports with charts, exports, closing months."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from marketplace.accounts.models import Agency
from marketplace.db import get_session
from marketplace.errors import DomainError
from marketplace.finance import exports, periods, reports
from marketplace.finance.charts import Bar, bar_chart, column_chart
from marketplace.finance.forms import ClosePeriodForm
from marketplace.finance.queries import Period
from marketplace.finance.views import (
    bp,
    current_scope,
    due_days,
    filter_choices,
    format_permille,
    format_tenths,
    month_label,
    requested_agency_id,
    requested_period,
)
from marketplace.i18n import current_locale, rupiah
from marketplace.web import permission_required, show_error, today_in_jakarta

# Reports -----------------------------------------------------------------------------


def _charts(
    report: reports.SpendingReport, timeliness: list[reports.Timeliness]
) -> dict[str, Markup]:
    def money_bars(shares: list[reports.Share]) -> list[Bar]:
        return [Bar(s.label, s.amount, rupiah(s.amount)) for s in shares]

    year = report.year
    target = format_permille(reports.SME_TARGET_PERMILLE)
    months = [
        Bar(format_date(Period(year, s.key).first_day, "MMM"), s.amount, rupiah(s.amount))  # type: ignore[arg-type]
        for s in report.by_month
    ]
    sme = [Bar(s.label, s.permille or 0, format_permille(s.permille)) for s in report.by_scale]
    sme.append(
        Bar(_("Micro and small"), report.sme_permille or 0, format_permille(report.sme_permille))
    )
    return {
        "agency": bar_chart(
            "chart-agency",
            _("Spending per agency, %(year)s", year=year),
            _("Rupiah received per agency; the table below gives the same figures."),
            money_bars(report.by_agency),
        ),
        "vendor": bar_chart(
            "chart-vendor",
            _("Top vendors, %(year)s", year=year),
            _("Rupiah received from the ten largest vendors."),
            money_bars(report.by_vendor),
        ),
        "category": bar_chart(
            "chart-category",
            _("Spending per category, %(year)s", year=year),
            _("Rupiah received per product category."),
            money_bars(report.by_category),
        ),
        "month": column_chart(
            "chart-month",
            _("Spending per month, %(year)s", year=year),
            _("Rupiah received in each month of the year."),
            months,
        ),
        "sme": bar_chart(
            "chart-sme",
            _("Share of spending per business size, %(year)s", year=year),
            _(
                "Share of the year's spending per vendor size; the dashed line is the"
                " %(target)s target.",
                target=target,
            ),
            sme,
            top=1000,
            target=(reports.SME_TARGET_PERMILLE, _("Target %(target)s", target=target)),
        ),
        "timeliness": bar_chart(
            "chart-timeliness",
            _("Paid orders paid within the payment term, %(year)s", year=year),
            _("Share of each agency's paid orders paid within the payment term."),
            [
                Bar(
                    t.agency_name,
                    t.within_due_permille or 0,
                    format_permille(t.within_due_permille),
                )
                for t in timeliness
            ],
            top=1000,
        ),
    }


@bp.get("/reports")
@permission_required("finance:view")
def report():  # type: ignore[no-untyped-def]
    db = get_session()
    scope = current_scope()
    today = today_in_jakarta()
    years = reports.report_years(db, scope, today.year)
    year = request.args.get("year", type=int)
    if year not in years:
        year = today.year
    spending = reports.spending_report(db, scope, year, locale=current_locale())
    timeliness, timeliness_total = reports.timeliness(
        db, scope, year, payment_due_days=due_days(), today=today
    )
    return render_template(
        "finance/reports.html",
        report=spending,
        timeliness=timeliness,
        timeliness_total=timeliness_total,
        charts=_charts(spending, timeliness),
        years=years,
        year=year,
        month_names=[format_date(Period(year, m).first_day, "MMMM") for m in range(1, 13)],
        payment_due_days=due_days(),
        format_tenths=format_tenths,
        **filter_choices(),
    )


# Exports -----------------------------------------------------------------------------


@bp.get("/exports")
@permission_required("finance:view")
def export_list():  # type: ignore[no-untyped-def]
    current_scope()  # refuses an agency the user may not see
    return render_template(
        "finance/exports.html",
        datasets=exports.DATASETS,
        formats=exports.FORMATS,
        **filter_choices(),
    )


MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@bp.get(
    "/exports/<any(orders, payments, ledgers, taxes_withheld):dataset>.<any(csv, xlsx):file_format>"
)
@permission_required("finance:view")
def export_file(dataset: str, file_format: str):  # type: ignore[no-untyped-def]
    db = get_session()
    scope = current_scope()
    period = requested_period()
    agency_id = requested_agency_id()
    agency = db.get(Agency, agency_id) if agency_id else None
    body = exports.export(db, dataset, file_format, scope, period, due_days())
    name = exports.file_name(dataset, file_format, period, agency.code if agency else "")
    return Response(
        body,
        mimetype=MEDIA_TYPES[file_format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


# Closing months ----------------------------------------------------------------------


def _periods_page(form: ClosePeriodForm, status: int = 200):  # type: ignore[no-untyped-def]
    db = get_session()
    today = today_in_jakarta()
    form.month.choices = [(p.key, month_label(p)) for p in periods.closable_months(db, today)]
    return render_template(
        "finance/periods.html",
        form=form,
        closed=periods.closed_periods(db),
        corrections=periods.corrections_after_close(db, current_scope()),
        can_close=periods.can_close_periods(current_user),
        month_label=month_label,
        Period=Period,
    ), status


@bp.get("/periods")
@permission_required("finance:view")
def period_list():  # type: ignore[no-untyped-def]
    return _periods_page(ClosePeriodForm(formdata=None))


@bp.post("/periods")
@permission_required("period:close")
def close_period():  # type: ignore[no-untyped-def]
    db = get_session()
    form = ClosePeriodForm()
    if form.validate_on_submit():
        period = Period.parse(form.month.data)
        if period is None or period.month is None:
            form.month.errors = [_("Choose a month.")]
        else:
            try:
                periods.close_month(
                    db, current_user, period.year, period.month, today=today_in_jakarta()
                )
            except DomainError as error:
                db.rollback()
                show_error(form, error)
            else:
                db.commit()
                flash(
                    _(
                        "%(month)s is closed. Nothing dated in it can change; corrections go to"
                        " the next open month.",
                        month=month_label(period),
                    ),
                    "success",
                )
                return redirect(url_for("finance.period_list"))
    return _periods_page(form, 400)

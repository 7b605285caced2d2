"""The curator's pages for the tax rule table: list, add, change, end, and try the rules out."""

from __future__ import annotations

from datetime import date

from babel.numbers import get_decimal_symbol
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from catalog.enums import BusinessType
from marketplace.db import get_session
from marketplace.errors import DomainError, NotFound
from marketplace.i18n import current_locale, rupiah
from marketplace.taxes import services
from marketplace.taxes.forms import NPWP_CHOICES, CalculatorForm, EndRuleForm, TaxRuleForm
from marketplace.taxes.models import Rounding, TaxKind, TaxRule
from marketplace.web import permission_required, show_error, today_in_jakarta

bp = Blueprint("taxes", __name__)


@bp.app_template_filter("tax_rate")
def tax_rate(rate_bp: int) -> str:
    """Basis points as a percentage in the reader's language: "1,5%" or "1.5%"."""
    return services.format_rate(rate_bp, get_decimal_symbol(current_locale()))


def describe_conditions(rule: TaxRule) -> list[str]:
    """The rule's conditions in words, for curators and auditors."""
    if rule.business_types:
        types = ", ".join(BusinessType(t).label for t in rule.business_types)
    else:
        types = _("Every type of business")
    words = [types]
    if rule.requires_regional_registration:
        words.append(_("registered for regional tax (NPWPD)"))
    if rule.vendor_has_npwp is True:
        words.append(_("with an NPWP"))
    elif rule.vendor_has_npwp is False:
        words.append(_("without an NPWP"))
    if rule.min_base_exclusive is not None:
        words.append(_("above %(amount)s", amount=rupiah(rule.min_base_exclusive)))
    return words


def _rule_status(rule: TaxRule, today: date) -> tuple[str, str]:
    """A label and a badge style for where the rule stands today."""
    if rule.in_force_on(today):
        return _("In force"), "badge-document-verified"
    if rule.effective_from > today:
        return _("Not yet in force"), "badge-document-pending"
    return _("Ended"), "badge-cart"


@bp.get("/admin/taxes")
@permission_required("tax:manage")
def rules():  # type: ignore[no-untyped-def]
    db = get_session()
    today = today_in_jakarta()
    trying = "gross" in request.args
    calculator = CalculatorForm(formdata=request.args if trying else None, day=today)
    breakdown = None
    if trying and calculator.validate():
        vendor = services.VendorTaxProfile(
            business_type=BusinessType(calculator.business_type.data),
            npwp="yes" if calculator.has_npwp.data == "yes" else None,
            regional_tax_number="yes" if calculator.registered.data == "yes" else None,
        )
        try:
            breakdown = services.compute_taxes(
                db, vendor, calculator.gross.data or 0, calculator.day.data or today
            )
        except DomainError as error:
            show_error(calculator, error)
    return render_template(
        "taxes/rules.html",
        groups=services.rules_by_code(db),
        today=today,
        status=lambda rule: _rule_status(rule, today),
        conditions=describe_conditions,
        calculator=calculator,
        breakdown=breakdown,
    ), (400 if trying and breakdown is None else 200)


def _rule_data(form: TaxRuleForm) -> services.TaxRuleData:
    return services.TaxRuleData(
        code=form.code.data or "",
        name=form.name.data or "",
        kind=TaxKind(form.kind.data),
        rate_bp=form.rate.rate_bp or 0,
        effective_from=form.effective_from.data or today_in_jakarta(),
        business_types=tuple(form.business_types.data or ()),
        requires_regional_registration=bool(form.requires_regional_registration.data),
        vendor_has_npwp=NPWP_CHOICES.get(form.vendor_has_npwp.data or ""),
        min_base_exclusive=form.min_base_exclusive.data,
        rounding=Rounding(form.rounding.data),
        last_day=form.last_day.data,
        legal_basis=form.legal_basis.data or "",
    )


def _rule(rule_id: int) -> TaxRule:
    rule = get_session().get(TaxRule, rule_id)
    if rule is None:
        raise NotFound(_("No such tax rule."))
    return rule


@bp.route("/admin/taxes/new", methods=["GET", "POST"])
@bp.route("/admin/taxes/<int:rule_id>/edit", methods=["GET", "POST"])
@permission_required("tax:manage")
def edit_rule(rule_id: int | None = None):  # type: ignore[no-untyped-def]
    db = get_session()
    rule = _rule(rule_id) if rule_id is not None else None
    form = TaxRuleForm(obj=rule if request.method == "GET" else None)
    if request.method == "GET" and rule is not None:
        form.rate.data = services.format_rate(rule.rate_bp, ",").removesuffix("%")
        form.vendor_has_npwp.data = {None: "", True: "yes", False: "no"}[rule.vendor_has_npwp]
        form.last_day.data = rule.last_day
    if form.validate_on_submit():
        try:
            if rule is None:
                saved = services.create_rule(db, current_user, _rule_data(form))
            else:
                saved = services.update_rule(db, current_user, rule, _rule_data(form))
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("The tax rule “%(name)s” is saved.", name=saved.name), "success")
            return redirect(url_for("taxes.rules"))
    status = 400 if request.method == "POST" else 200
    return render_template("taxes/rule_form.html", form=form, rule=rule), status


@bp.route("/admin/taxes/<int:rule_id>/end", methods=["GET", "POST"])
@permission_required("tax:manage")
def end_rule(rule_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    rule = _rule(rule_id)
    form = EndRuleForm(last_day=rule.last_day or today_in_jakarta())
    if form.validate_on_submit():
        try:
            services.end_rule(db, current_user, rule, form.last_day.data or today_in_jakarta())
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("The tax rule “%(name)s” is ended.", name=rule.name), "success")
            return redirect(url_for("taxes.rules"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "taxes/end_rule.html", form=form, rule=rule, conditions=describe_conditions
    ), status

"""The curator's forms for the tax rule table, and the calculator that tries the rules out."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from catalog.enums import BusinessType
from marketplace.taxes.calculation import WHOLE_BP
from marketplace.taxes.models import Rounding, TaxKind

REQUIRED = _l("This field is required.")
VALID_DATE = _l("Enter a valid date.")

_PERCENT = re.compile(r"(\d{1,3})(?:[.,](\d{1,2}))?")


def parse_rate(text: str | None) -> int:
    """A percentage typed by a person ("1,5", "1.5", "10", "0,25 %") in basis points, exactly."""
    cleaned = (text or "").strip().removesuffix("%").strip()
    match = _PERCENT.fullmatch(cleaned)
    if match is None:
        raise ValueError(_l("Enter a percentage with at most two decimals, e.g. 1,5."))
    whole, fraction = match.group(1), match.group(2) or ""
    rate_bp = int(whole) * 100 + int(fraction.ljust(2, "0"))
    if rate_bp > WHOLE_BP:
        raise ValueError(_l("The rate must be between 0 and 100%."))
    return rate_bp


class RateField(StringField):
    """A percentage in the form, basis points in `rate_bp` once validated."""

    rate_bp: int | None = None

    def pre_validate(self, form: Any) -> None:
        self.rate_bp = None
        if not (self.data or "").strip():
            return  # the required validator speaks
        try:
            self.rate_bp = parse_rate(self.data)
        except ValueError as error:
            raise ValidationError(error.args[0]) from None


#: NPWP condition choices: how the form writes None / True / False
NPWP_CHOICES = {"": None, "yes": True, "no": False}


class TaxRuleForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(REQUIRED), Length(max=20)],
        description=_l("Shown on invoices and in exports, e.g. PBJT, PPH23, PPH22."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    kind = SelectField(_l("Kind"), validators=[DataRequired(REQUIRED)])
    rate = RateField(
        _l("Rate (%)"),
        validators=[DataRequired(REQUIRED)],
        description=_l("A percentage of the tax base, up to two decimals: 10, 2 or 1,5."),
    )
    business_types = SelectMultipleField(
        _l("Business types"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],
        description=_l("Tick none for every type of business."),
    )
    requires_regional_registration = BooleanField(
        _l("Only vendors registered for regional tax (with an NPWPD)")
    )
    vendor_has_npwp = SelectField(_l("Vendor's NPWP"), default="")
    min_base_exclusive = IntegerField(
        _l("Only when the tax base is above (Rp)"),
        validators=[Optional(), NumberRange(min=0, max=10**15)],
        description=_l("Whole rupiah. Leave empty to apply to every amount."),
    )
    rounding = SelectField(_l("Rounding"), default=Rounding.DOWN.value)
    effective_from = DateField(_l("In force from"), validators=[InputRequired(VALID_DATE)])
    last_day = DateField(
        _l("Last day in force"),
        validators=[Optional()],
        description=_l("Leave empty while the rule is in force."),
    )
    legal_basis = TextAreaField(
        _l("Legal basis"),
        validators=[Optional(), Length(max=1000)],
        description=_l("The law or regulation, e.g. UU 36/2008 Pasal 23; PMK 141/2015."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, k.label) for k in TaxKind]
        self.business_types.choices = [(t.value, t.label) for t in BusinessType]
        self.vendor_has_npwp.choices = [
            ("", _l("With or without an NPWP")),
            ("yes", _l("Only vendors with an NPWP")),
            ("no", _l("Only vendors without an NPWP")),
        ]
        self.rounding.choices = [(r.value, r.label) for r in Rounding]


class EndRuleForm(FlaskForm):
    last_day = DateField(
        _l("Last day in force"),
        validators=[InputRequired(VALID_DATE)],
        description=_l("From the next day the rule no longer applies."),
    )


class CalculatorForm(FlaskForm):
    """Read from the query string: trying the rules changes nothing, so no CSRF token."""

    class Meta:
        csrf = False

    business_type = SelectField(_l("Type of business"), default=BusinessType.CATERER.value)
    has_npwp = SelectField(_l("Has an NPWP"), default="yes")
    registered = SelectField(_l("Registered for PBJT (has an NPWPD)"), default="yes")
    gross = IntegerField(
        _l("Amount paid, taxes included (Rp)"),
        validators=[InputRequired(REQUIRED), NumberRange(min=0, max=10**13)],
    )
    day = DateField(_l("Date of the sale"), validators=[InputRequired(VALID_DATE)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.business_type.choices = [(t.value, t.label) for t in BusinessType]
        yes_no = [("yes", _l("Yes")), ("no", _l("No"))]
        self.has_npwp.choices = yes_no
        self.registered.choices = yes_no

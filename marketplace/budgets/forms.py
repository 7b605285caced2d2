"""Forms of the budget holder: new lines, allocation changes, closing a year."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

REQUIRED = _l("This field is required.")
RUPIAH = _l("Whole rupiah, without dots.")


class NewLineForm(FlaskForm):
    agency_id = SelectField(_l("Agency"), coerce=int)
    account_code = StringField(
        _l("Account code"),
        validators=[DataRequired(REQUIRED), Length(max=40)],
        description=_l("As in the DPA, e.g. 5.1.02.01.01.0052."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    activity = StringField(_l("Activity / sub-activity"), validators=[Optional(), Length(max=200)])
    fiscal_year = IntegerField(
        _l("Fiscal year"), validators=[InputRequired(REQUIRED), NumberRange(min=2000, max=2100)]
    )
    allocation = IntegerField(
        _l("Allocation (Rp)"),
        validators=[InputRequired(REQUIRED), NumberRange(min=0, max=10**15)],
        description=RUPIAH,
    )


class AllocationForm(FlaskForm):
    allocation = IntegerField(
        _l("New allocation (Rp)"),
        validators=[InputRequired(REQUIRED), NumberRange(min=0, max=10**15)],
        description=RUPIAH,
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(REQUIRED), Length(max=1000)],
        description=_l("E.g. the number of the DPA amendment (DPPA)."),
    )


class CloseYearForm(FlaskForm):
    agency_id = SelectField(_l("Agency"), coerce=int)
    fiscal_year = IntegerField(
        _l("Fiscal year to close"),
        validators=[InputRequired(REQUIRED), NumberRange(min=2000, max=2100)],
    )

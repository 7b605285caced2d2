"""Forms of the finance pages: explaining an exception, closing a month, reconciling."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

REQUIRED = _l("This field is required.")


class ExplainForm(FlaskForm):
    kind = HiddenField(validators=[DataRequired(REQUIRED), Length(max=40)])
    subject = HiddenField(validators=[DataRequired(REQUIRED), Length(max=120)])
    note = TextAreaField(
        _l("Explanation"),
        validators=[DataRequired(_l("Write what you found.")), Length(max=2000)],
        description=_l("What you checked and why it is in order, e.g. the SP2D number."),
    )


class ClosePeriodForm(FlaskForm):
    # the service decides which months may be closed, and says why not
    month = SelectField(
        _l("Month to close"), validators=[DataRequired(REQUIRED)], validate_choice=False
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""

"""The form for creating an API token on one's account page."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from marketplace.api.tokens import SCOPES

#: days until a new token expires; "0" means it never does
EXPIRY_CHOICES = [
    ("30", _l("In 30 days")),
    ("90", _l("In 90 days")),
    ("365", _l("In a year")),
    ("0", _l("Never (revoke it when no longer needed)")),
]


def _at_least_one(_form: FlaskForm, field: SelectMultipleField) -> None:
    # Not DataRequired: its "required" flag would mark every checkbox required.
    if not field.data:
        raise ValidationError(_l("Choose at least one of the scopes offered."))


class NewTokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("This field is required.")), Length(max=100)],
        description=_l("What will use it, e.g. “SIPD finance sync”."),
    )
    scopes = SelectMultipleField(
        _l("What it may do"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[_at_least_one],
        description=_l("It can never do more than your own roles allow."),
    )
    expires_in = SelectField(_l("Expires"), default="90")

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # Set here rather than in the fields: WTForms warns about tuples given there.
        self.scopes.choices = list(SCOPES.items())
        self.expires_in.choices = EXPIRY_CHOICES

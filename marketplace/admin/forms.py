"""The curator's forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

REQUIRED = _l("This field is required.")


class CategoryForm(FlaskForm):
    name_id = StringField(
        _l("Name in Indonesian"), validators=[DataRequired(REQUIRED), Length(max=100)]
    )
    name_en = StringField(
        _l("Name in English"), validators=[DataRequired(REQUIRED), Length(max=100)]
    )
    slug = StringField(
        _l("Slug"),
        validators=[DataRequired(REQUIRED), Length(max=60)],
        description=_l("Used in addresses and imports, e.g. nasi-box."),
    )
    parent_id = SelectField(_l("Parent category"), coerce=int, validators=[Optional()])
    position = IntegerField(
        _l("Order in lists"), default=0, validators=[Optional(), NumberRange(min=0, max=10_000)]
    )

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


class AgencyForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(REQUIRED), Length(max=30)])
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=300)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    second_approval_threshold = IntegerField(
        _l("Second approval above (Rp)"),
        validators=[Optional(), NumberRange(min=1, max=10**15)],
        description=_l("Orders above it also need the budget holder. Empty: the province default."),
    )
    split_purchase_threshold = IntegerField(
        _l("Split-purchase flag above (Rp)"),
        validators=[Optional(), NumberRange(min=1, max=10**15)],
        description=_l(
            "Orders to one vendor for one day adding up beyond it are flagged. "
            "Empty: the province default."
        ),
    )


class UnitCostForm(FlaskForm):
    category_id = SelectField(_l("Category"), coerce=int)
    agency_id = SelectField(_l("Applies to"), coerce=int)
    max_per_pax = IntegerField(
        _l("Most per person (Rp)"),
        validators=[Optional(), NumberRange(min=1, max=10**12)],
        description=_l("Leave empty to remove the cap."),
    )

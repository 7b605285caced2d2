"""The listing form of the vendor's desk."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from catalog.models import ProductStatus, Unit

REQUIRED = _l("This field is required.")


class ProductForm(FlaskForm):
    name = StringField(_l("Product name"), validators=[DataRequired(REQUIRED), Length(max=160)])
    category_id = SelectField(_l("Category"), coerce=int, validators=[InputRequired(REQUIRED)])
    description = TextAreaField(
        _l("Description"),
        validators=[Optional(), Length(max=4000)],
        description=_l("What is in it, portion size, packaging."),
    )
    unit = SelectField(_l("Unit"), validators=[DataRequired(REQUIRED)])
    price = IntegerField(
        _l("Price per unit (Rp)"),
        validators=[
            InputRequired(_l("Enter the price in whole rupiah, without dots.")),
            NumberRange(min=1, max=1_000_000_000, message=_l("The price must be more than Rp 0.")),
        ],
        description=_l("Whole rupiah, without dots: 35000."),
    )
    min_order_quantity = IntegerField(
        _l("Minimum order"),
        default=1,
        validators=[InputRequired(REQUIRED), NumberRange(min=1, max=100_000)],
    )
    lead_time_hours = IntegerField(
        _l("Lead time (hours)"),
        default=24,
        validators=[InputRequired(REQUIRED), NumberRange(min=0, max=24 * 60)],
        description=_l("How long before delivery you need the order."),
    )
    status = SelectField(_l("Status"), default=ProductStatus.PUBLISHED.value)

    def __init__(self, *args, categories=(), locale="id", **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.category_id.choices = [(c.id, c.name_for(locale)) for c in categories]
        self.unit.choices = [(u.value, u.label) for u in Unit]
        self.status.choices = [(s.value, s.label) for s in ProductStatus]

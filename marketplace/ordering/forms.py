"""Forms of the buying side: checkout and the reasons given for refusing an order."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

REQUIRED = _l("This field is required.")


class CheckoutForm(FlaskForm):
    order_ids = HiddenField()
    budget_line_id = SelectField(
        _l("Budget line"), coerce=int, validators=[InputRequired(_l("Choose a budget line."))]
    )
    activity_name = StringField(
        _l("Activity"),
        validators=[DataRequired(REQUIRED), Length(max=200)],
        description=_l("For example: Coordination meeting on flood preparedness."),
    )
    delivery_date = DateField(
        _l("Delivery date"), validators=[InputRequired(_l("Enter a valid date."))]
    )
    delivery_time = TimeField(
        _l("Delivery time"), validators=[InputRequired(_l("Enter a valid time."))]
    )
    delivery_until = TimeField(
        _l("Deliver by (optional)"),
        validators=[Optional()],
        description=_l("The end of the delivery window."),
    )
    saved_address_id = SelectField(_l("Saved address"), coerce=int, validators=[Optional()])
    delivery_address = TextAreaField(
        # Optional here: a saved address may be chosen instead; the service checks it.
        _l("Delivery address"),
        validators=[Optional(), Length(max=500)],
    )
    delivery_district = StringField(
        _l("District (kecamatan)"),
        validators=[Optional(), Length(max=100)],
        description=_l("Vendors deliver only to the districts they serve."),
    )
    save_address_as = StringField(
        _l("Save this address as (optional)"),
        validators=[Optional(), Length(max=100)],
        description=_l("E.g. Aula Lt. 3. Your agency can then choose it next time."),
    )
    recipient_name = StringField(
        _l("Recipient"),
        validators=[DataRequired(REQUIRED), Length(max=200)],
        description=_l("Who receives the delivery on site."),
    )
    recipient_phone = StringField(
        _l("Recipient's phone"), validators=[DataRequired(REQUIRED), Length(max=30)]
    )
    headcount = IntegerField(
        _l("Number of people (pax)"),
        validators=[Optional(), NumberRange(min=1, max=100_000, message=_l("Enter 1 or more."))],
    )
    notes = TextAreaField(_l("Notes for the vendor"), validators=[Optional(), Length(max=1000)])
    justification = TextAreaField(
        _l("Justification (only when above the standard unit cost)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Why this activity needs food above the standard cost per person."),
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=1000)])


class CartQuantityForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity"),
        validators=[
            InputRequired(_l("Enter a quantity.")),
            NumberRange(min=0, max=100_000, message=_l("Enter a quantity from 0 to 100000.")),
        ],
    )


class ChangeOrderForm(FlaskForm):
    delivery_date = DateField(
        _l("Delivery date"), validators=[InputRequired(_l("Enter a valid date."))]
    )
    delivery_time = TimeField(
        _l("Delivery time"), validators=[InputRequired(_l("Enter a valid time."))]
    )

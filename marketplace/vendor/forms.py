"""The listing form of the vendor's desk."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from catalog.models import DietaryTag, DocumentKind, ProductStatus, Unit
from marketplace.taxes.services import REGIONAL_TAX_NUMBER_PATTERN

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
    portions_per_unit = IntegerField(
        _l("Portions per unit"),
        default=1,
        validators=[InputRequired(REQUIRED), NumberRange(min=1, max=10_000)],
        description=_l("How many people one unit feeds, e.g. 20 for a tumpeng package."),
    )
    tags = SelectMultipleField(
        _l("Dietary and certification tags"),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[Optional()],
    )

    def __init__(self, *args, categories=(), locale="id", **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.category_id.choices = [(c.id, c.name_for(locale)) for c in categories]
        self.unit.choices = [(u.value, u.label) for u in Unit]
        self.status.choices = [(s.value, s.label) for s in ProductStatus]
        self.tags.choices = [(t.value, t.label) for t in DietaryTag]


class DocumentForm(FlaskForm):
    kind = SelectField(_l("Document"), validators=[DataRequired(REQUIRED)])
    number = StringField(
        _l("Document number"), validators=[DataRequired(REQUIRED), Length(max=100)]
    )
    issued_on = DateField(_l("Issued on"), validators=[InputRequired(_l("Enter a valid date."))])
    expires_on = DateField(_l("Valid until"), validators=[InputRequired(_l("Enter a valid date."))])
    file = FileField(
        _l("Scan or photo of the document"),
        validators=[FileRequired(_l("Choose the file to upload."))],
        description=_l("PDF, JPEG, PNG or WebP, up to 10 MB."),
    )

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, k.label) for k in DocumentKind]


class CapacityForm(FlaskForm):
    max_portions_per_day = IntegerField(
        _l("Portions per day"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000, message=_l("Enter 1 or more."))],
        description=_l("The most your kitchen can make in one day. Leave empty for no limit."),
    )
    order_cutoff = TimeField(
        _l("Order cut-off time"),
        validators=[Optional()],
        description=_l("Orders for the next day must arrive before this time."),
    )


class TaxNumbersForm(FlaskForm):
    regional_tax_number = StringField(
        _l("Regional tax number (NPWPD), if registered for PBJT"),
        validators=[
            Optional(),
            Length(max=40),
            Regexp(
                REGIONAL_TAX_NUMBER_PATTERN,
                message=_l("Use letters, digits, dots and dashes, up to 40 characters."),
            ),
        ],
        description=_l("Leave empty if you are not registered for the regional food tax."),
    )


class ClosedDayForm(FlaskForm):
    day = DateField(_l("Closed on"), validators=[InputRequired(_l("Enter a valid date."))])
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])


class PhotoForm(FlaskForm):
    photo = FileField(
        _l("Add a photo"),
        validators=[FileRequired(_l("Choose a photo to upload."))],
        description=_l("JPEG, PNG or WebP, up to 10 MB. Up to 6 photos per product."),
    )


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(_l("Choose the CSV file to import."))],
        description=_l("Export your listings first to get the columns; save as CSV UTF-8."),
    )

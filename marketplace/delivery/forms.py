"""Forms of the delivery step: the vendor's delivery report and the agency's dispute."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import DateField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length

PHOTO_HINT = _l("Optional: up to 4 photos (JPEG, PNG or WebP), 12 MB in all.")


class DeliveryForm(FlaskForm):
    handed_over_date = DateField(
        _l("Date handed over"), validators=[InputRequired(_l("Enter a valid date."))]
    )
    handed_over_time = TimeField(
        _l("Time handed over"), validators=[InputRequired(_l("Enter a valid time."))]
    )
    note = TextAreaField(
        _l("Note for the agency (optional)"),
        validators=[Length(max=1000)],
        description=_l("For example: received by the meeting secretary at the front desk."),
    )
    photos = MultipleFileField(_l("Proof photos"), description=PHOTO_HINT)


class DisputeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for refusing"),
        validators=[DataRequired(_l("Give a reason.")), Length(max=1000)],
    )
    photos = MultipleFileField(_l("Photos of the problem"), description=PHOTO_HINT)

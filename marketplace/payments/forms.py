"""Forms of the treasurer's payment pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

REQUIRED = _l("This field is required.")


class TransferForm(FlaskForm):
    reference = StringField(
        _l("Transfer reference (SP2D number)"),
        validators=[DataRequired(REQUIRED), Length(max=100)],
    )
    paid_on = DateField(_l("Transfer date"), validators=[InputRequired(_l("Enter a valid date."))])
    amount = IntegerField(
        _l("Amount transferred (Rp)"),
        validators=[
            InputRequired(_l("Enter the amount in whole rupiah.")),
            NumberRange(min=1, message=_l("Enter the amount in whole rupiah.")),
        ],
        description=_l("The net payable, after the taxes you withhold."),
    )
    payer_account = StringField(
        _l("Paid from account"),
        validators=[DataRequired(REQUIRED), Length(max=100)],
        description=_l("The treasury account the transfer left from (RKUD / BUD)."),
    )
    withholding_slips = TextAreaField(
        _l("Tax withholding slip numbers (bukti potong)"),
        validators=[Optional(), Length(max=1000)],
        description=_l("One per line, for each tax withheld."),
    )
    partial_reason = TextAreaField(
        _l("Reason for a partial payment"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Only when you transfer less than the net payable."),
    )
    proof = FileField(
        _l("Proof of transfer (PDF or image, optional)"),
    )


class RefundForm(FlaskForm):
    order_id = IntegerField(validators=[InputRequired()])
    amount = IntegerField(
        _l("Amount to refund (Rp)"),
        validators=[
            InputRequired(_l("Enter the amount in whole rupiah.")),
            NumberRange(min=1, message=_l("Enter the amount in whole rupiah.")),
        ],
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=1000)])
    reference = StringField(
        _l("Reference of the vendor's return transfer"),
        validators=[Optional(), Length(max=100)],
        description=_l("For a transfer; a card payment is refunded through Stripe."),
    )

"""Forms for logging in, registering a vendor and changing a password."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from catalog.models import BusinessScale, BusinessType
from marketplace.accounts.passwords import MIN_PASSWORD_LENGTH
from marketplace.taxes.services import REGIONAL_TAX_NUMBER_PATTERN

REQUIRED = _l("This field is required.")
TOO_SHORT = _l("Use at least %(n)d characters for the password.", n=MIN_PASSWORD_LENGTH)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)])
    remember = BooleanField(
        _l("Keep me logged in on this device"),
        description=_l("Only on a device no one else uses. Logging out ends it."),
    )


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(REQUIRED), Length(max=20)],
        description=_l(
            "The 6-digit code your authenticator app shows now, or one of your recovery codes."
        ),
    )


class TwoFactorSetupForm(FlaskForm):
    code = StringField(
        _l("Code from the app"),
        validators=[DataRequired(REQUIRED), Length(max=20)],
        description=_l("The 6 digits the app shows for e-Order."),
    )
    password = PasswordField(_l("Your password"), validators=[DataRequired(REQUIRED)])


class TwoFactorChangeForm(FlaskForm):
    """Switching two-step log-in off or making new recovery codes: both factors again."""

    password = PasswordField(_l("Your password"), validators=[DataRequired(REQUIRED)])
    code = StringField(_l("Code from the app"), validators=[DataRequired(REQUIRED), Length(max=20)])


class VendorRegistrationForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(REQUIRED),
            Length(min=MIN_PASSWORD_LENGTH, message=TOO_SHORT),
            Length(max=200),
        ],
        description=_l("At least 12 characters."),
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(REQUIRED), EqualTo("password", _l("The passwords differ."))],
    )
    legal_name = StringField(
        _l("Legal name of the business"), validators=[DataRequired(REQUIRED), Length(max=200)]
    )
    trading_name = StringField(
        _l("Trading name"), validators=[DataRequired(REQUIRED), Length(max=200)]
    )
    business_type = SelectField(_l("Type of business"), validators=[DataRequired(REQUIRED)])
    scale = SelectField(_l("Business scale"), validators=[DataRequired(REQUIRED)])
    district = StringField(
        _l("District (kecamatan)"), validators=[DataRequired(REQUIRED), Length(max=100)]
    )
    city = StringField(_l("City"), validators=[DataRequired(REQUIRED), Length(max=100)])
    phone = StringField(_l("Phone"), validators=[DataRequired(REQUIRED), Length(max=30)])
    nib = StringField(
        _l("Business identity number (NIB)"),
        validators=[DataRequired(REQUIRED), Length(max=30)],
        description=_l("13 digits, from OSS."),
    )
    npwp = StringField(
        _l("Tax number (NPWP), optional"),
        validators=[Optional(), Length(max=30)],
        description=_l(
            "15 or 16 digits. Without an NPWP, income tax is withheld at a higher rate."
        ),
    )
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
        description=_l(
            "Registered businesses charge the regional food and beverage tax (PBJT), "
            "included in their prices."
        ),
    )
    service_districts = TextAreaField(
        _l("Districts you deliver to"),
        validators=[Optional(), Length(max=3000)],
        description=_l(
            "Separate with commas, e.g. Tebet, Setiabudi, Menteng. Your own district is included."
        ),
    )
    jakpreneur_number = StringField(
        _l("Jakpreneur membership number, optional"), validators=[Optional(), Length(max=40)]
    )
    contact_person = StringField(
        _l("Contact person"), validators=[DataRequired(REQUIRED), Length(max=200)]
    )
    bank_name = StringField(_l("Bank"), validators=[DataRequired(REQUIRED), Length(max=100)])
    bank_account_number = StringField(
        _l("Account number"), validators=[DataRequired(REQUIRED), Length(max=40)]
    )
    bank_account_holder = StringField(
        _l("Account holder"),
        validators=[DataRequired(REQUIRED), Length(max=200)],
        description=_l("As written in the bank book."),
    )

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.business_type.choices = [(t.value, t.label) for t in BusinessType]
        self.scale.choices = [(s.value, s.label) for s in BusinessScale]


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)])
    new_password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(REQUIRED),
            Length(min=MIN_PASSWORD_LENGTH, message=TOO_SHORT),
            Length(max=200),
        ],
        description=_l("At least 12 characters."),
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(REQUIRED), EqualTo("new_password", _l("The passwords differ."))],
    )


class StaffUserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    position = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField(
        _l("Initial password"),
        validators=[
            DataRequired(REQUIRED),
            Length(min=MIN_PASSWORD_LENGTH, message=TOO_SHORT),
            Length(max=200),
        ],
        description=_l("At least 12 characters. Give it to the person privately."),
    )
    agency_id = SelectField(_l("Agency"), coerce=int, validators=[Optional()])
    roles = SelectMultipleField(
        _l("Roles"), validators=[DataRequired(_l("Choose at least one role."))]
    )

"""The form a requester fills in to rate the vendor of a received order."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from marketplace.ratings.services import MAX_COMMENT_LENGTH, MAX_STARS, MIN_STARS, star_label

CHOOSE_STARS = _l("Choose from 1 to 5 stars.")


def _stars_or_none(value: object) -> int | None:
    # Anything but a whole number becomes None, so that the form says "choose from 1 to 5"
    # rather than WTForms' "could not coerce".
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _star_choices() -> list[tuple[int, str]]:
    # Called for each form, so that the labels are in the person's language; best first.
    return [(n, star_label(n)) for n in range(MAX_STARS, MIN_STARS - 1, -1)]


class RatingForm(FlaskForm):
    stars = RadioField(
        _l("How was the vendor?"),
        choices=_star_choices,
        coerce=_stars_or_none,
        validate_choice=False,
        validators=[
            InputRequired(CHOOSE_STARS),
            AnyOf(list(range(MIN_STARS, MAX_STARS + 1)), message=CHOOSE_STARS),
        ],
    )
    comment = TextAreaField(
        _l("Comment (optional)"),
        validators=[
            Optional(),
            Length(
                max=MAX_COMMENT_LENGTH,
                # WTForms fills in %(max)d
                message=_l("Keep the comment to %(max)d characters."),
            ),
        ],
        description=_l(
            "What went well or not: food, punctuality, packaging. Other agencies will see it "
            "with your agency's name, not yours."
        ),
    )

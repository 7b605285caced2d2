"""Pages of the ratings feature: the requester rates the vendor of a received order."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.db import get_session
from marketplace.errors import Conflict, DomainError
from marketplace.ordering.models import Order
from marketplace.ordering.services import get_visible_order
from marketplace.ratings import services
from marketplace.ratings.forms import RatingForm
from marketplace.ratings.models import VendorRating
from marketplace.web import show_error

bp = Blueprint("ratings", __name__)


@bp.app_context_processor
def _rating_helpers() -> dict[str, object]:
    """For templates/ratings/_order_rating.html, which the order page includes."""

    def order_rating(order: Order) -> VendorRating | None:
        return services.rating_for_order(get_session(), order.id)

    return {"order_rating": order_rating, "star_label": services.star_label}


@bp.route("/orders/<int:order_id>/rating", methods=["GET", "POST"])
@login_required
def rate(order_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    order = get_visible_order(db, current_user, order_id)
    if services.rating_for_order(db, order.id) is not None:
        return _already_rated(order)
    services.require_can_rate(current_user, order)
    form = RatingForm()
    if form.validate_on_submit():
        try:
            services.rate_vendor(db, current_user, order, form.stars.data, form.comment.data)
        except Conflict:  # a second click, or another tab, saved a rating first
            db.rollback()
            return _already_rated(order)
        except DomainError as error:
            db.rollback()
            if error.field is None:
                raise
            show_error(form, error)
        else:
            db.commit()
            flash(
                _(
                    "Thank you. Your rating of %(vendor)s was saved.",
                    vendor=order.vendor.trading_name,
                ),
                "success",
            )
            return redirect(url_for("ordering.order", order_id=order.id))
    status = 400 if form.is_submitted() else 200
    return render_template("ratings/rate.html", order=order, form=form), status


def _already_rated(order: Order):  # type: ignore[no-untyped-def]
    flash(_("This order has already been rated. Each order is rated once."), "info")
    return redirect(url_for("ordering.order", order_id=order.id))

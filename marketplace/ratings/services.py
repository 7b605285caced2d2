"""Rating a vendor after receipt, and reading a vendor's ratings for its public page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.models import Vendor
from marketplace.accounts.models import Agency, User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, IllegalTransition, PermissionDenied
from marketplace.ordering.models import Order
from marketplace.permissions import RECEIVED_STATUSES, can_rate
from marketplace.ratings.models import VendorRating
from marketplace.search import mark_vendor_changed

MIN_STARS, MAX_STARS = 1, 5
MAX_COMMENT_LENGTH = 1000

#: what each number of stars means, for the form and wherever a rating is shown
STAR_WORDS = {
    5: _l("excellent"),
    4: _l("good"),
    3: _l("fair"),
    2: _l("poor"),
    1: _l("very poor"),
}


def star_label(stars: int) -> str:
    """ "4 – good": the number of stars and its meaning."""
    return f"{stars} – {STAR_WORDS[stars]}"


@dataclass(frozen=True)
class PublicRating:
    """A rating as anyone may see it: the agency, never the person who rated."""

    stars: int
    comment: str
    created_at: datetime
    agency_name: str


def _check_stars(stars: object) -> int:
    if isinstance(stars, bool) or not isinstance(stars, int) or not MIN_STARS <= stars <= MAX_STARS:
        raise DomainError(_l("Choose from 1 to 5 stars."), field="stars")
    return stars


def _check_comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise DomainError(
            _l("Keep the comment to %(max)d characters.", max=MAX_COMMENT_LENGTH), field="comment"
        )
    return comment


def require_can_rate(actor: User, order: Order) -> None:
    """Refuse, with the reason, anyone but the requester of a received order."""
    if order.status not in RECEIVED_STATUSES:
        raise IllegalTransition(_l("You can rate the vendor once the order has been received."))
    if not can_rate(actor, order):
        raise PermissionDenied(_l("Only the requester of this order can rate its vendor."))


def rate_vendor(
    session: Session, actor: User, order: Order, stars: int, comment: str | None = ""
) -> VendorRating:
    """The requester rates the vendor of a received order, once.

    The vendor's counters move by a single UPDATE of their own values, so that ratings saved
    at the same time all count; the vendor's products are re-indexed after the commit.
    """
    require_can_rate(actor, order)
    stars = _check_stars(stars)
    comment = _check_comment(comment)
    already = _l("This order has already been rated. Each order is rated once.")
    if rating_for_order(session, order.id) is not None:
        raise Conflict(already)
    rating = VendorRating(
        order_id=order.id,
        vendor_id=order.vendor_id,
        agency_id=order.agency_id,
        rated_by_id=actor.id,
        stars=stars,
        comment=comment,
    )
    try:
        # Two submissions at once both pass the check above; the unique order_id stops the
        # second here, and only its savepoint is undone.
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError:
        raise Conflict(already) from None
    session.execute(
        update(Vendor)
        .where(Vendor.id == order.vendor_id)
        .values(
            rating_count=Vendor.rating_count + 1,
            rating_stars_total=Vendor.rating_stars_total + stars,
        )
        .execution_options(synchronize_session=False)
    )
    # The UPDATE bypassed the vendor object this session may hold: reload its counters.
    loaded = session.identity_map.get(session.identity_key(Vendor, order.vendor_id))
    if loaded is not None:
        session.expire(loaded, ["rating_count", "rating_stars_total"])
    mark_vendor_changed(session, order.vendor_id)
    record_event(
        session,
        actor,
        "vendor.rate",
        "vendor_rating",
        rating.id,
        after={"order_id": order.id, "stars": stars, "comment": comment},
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
    )
    session.flush()
    return rating


def rating_for_order(session: Session, order_id: int) -> VendorRating | None:
    return session.scalar(select(VendorRating).where(VendorRating.order_id == order_id))


def recent_ratings(
    session: Session, vendor_id: int, limit: int = 10, *, with_comment_only: bool = False
) -> list[PublicRating]:
    """The vendor's latest ratings, newest first, with the rating agency's name."""
    query = (
        select(VendorRating.stars, VendorRating.comment, VendorRating.created_at, Agency.name)
        .join(Agency, Agency.id == VendorRating.agency_id)
        .where(VendorRating.vendor_id == vendor_id)
        .order_by(VendorRating.created_at.desc(), VendorRating.id.desc())
        .limit(limit)
    )
    if with_comment_only:
        query = query.where(VendorRating.comment != "")
    return [PublicRating(*row) for row in session.execute(query)]


def rating_distribution(session: Session, vendor_id: int) -> dict[int, int]:
    """How many ratings of each number of stars, 5 down to 1 (zeros included)."""
    rows = session.execute(
        select(VendorRating.stars, func.count())
        .where(VendorRating.vendor_id == vendor_id)
        .group_by(VendorRating.stars)
    )
    counts = {stars: count for stars, count in rows}
    return {stars: counts.get(stars, 0) for stars in range(MAX_STARS, MIN_STARS - 1, -1)}

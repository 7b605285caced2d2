"""Catalogue pages: searching with facets, and a product's page with "add to cart"."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from catalog.models import BusinessScale, DietaryTag, Product
from catalog.search import LEAD_TIME_BUCKETS, PRICE_BUCKETS, SORTS
from catalog.services import categories
from marketplace.db import get_session
from marketplace.permissions import can_manage_listings, has_any_permission
from marketplace.search import catalog_index

bp = Blueprint("shop", __name__, url_prefix="/catalog")
PAGE_SIZE = 24
SORT_LABELS = {
    "relevance": _l("Best match"),
    "price_asc": _l("Price, low to high"),
    "price_desc": _l("Price, high to low"),
    "newest": _l("Newest"),
    "rating": _l("Vendor rating"),
}


class AddToCartForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity"),
        validators=[
            InputRequired(_l("Enter a quantity.")),
            NumberRange(min=1, max=100_000, message=_l("Enter a quantity from 1 to 100000.")),
        ],
    )


def _search_params() -> dict[str, object]:
    """The filters as they stand in the URL, cleaned; unknown values are ignored."""
    args = request.args
    price = args.get("price", "")
    bucket = next((b for b in PRICE_BUCKETS if b.key == price), None)
    within = args.get("within", type=int)
    sort = args.get("sort", "relevance")
    return {
        "q": args.get("q", "").strip()[:200],
        "category": args.get("category", "").strip()[:60],
        "tags": [t for t in args.getlist("tag") if t in DietaryTag._value2member_map_],
        "price": bucket.key if bucket else "",
        "district": args.get("district", "").strip()[:100],
        "scale": args.get("scale", "")
        if args.get("scale") in BusinessScale._value2member_map_
        else "",
        "within": within if within in LEAD_TIME_BUCKETS else None,
        "sort": sort if sort in SORTS else "relevance",
        "page": min(max(args.get("page", 1, type=int) or 1, 1), 10_000),
    }


def catalogue_url(params: dict[str, object], **changes: object) -> str:
    """The catalogue URL with some filters changed; the page goes back to 1."""
    merged = {**params, "page": 1, **changes}
    return url_for(
        "shop.index",
        **{
            ("tag" if key == "tags" else key): value
            for key, value in merged.items()
            if value not in ("", None, [], 1) or (key == "page" and value != 1)
        },
    )


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    db = get_session()
    params = _search_params()
    bucket = next((b for b in PRICE_BUCKETS if b.key == params["price"]), None)
    result = catalog_index().search(
        str(params["q"]),
        category=str(params["category"]) or None,
        tags=list(params["tags"]),  # type: ignore[arg-type]
        price_min=bucket.price_min if bucket else None,
        price_max=bucket.price_max if bucket else None,
        district=str(params["district"]) or None,
        scale=str(params["scale"]) or None,
        deliverable_within_hours=params["within"],  # type: ignore[arg-type]
        sort=params["sort"],  # type: ignore[arg-type]
        page=int(params["page"]),  # type: ignore[call-overload]
        page_size=PAGE_SIZE,
    )
    found = {
        p.id: p
        for p in db.scalars(
            select(Product)
            .where(Product.id.in_(result.ids))
            .options(joinedload(Product.vendor), joinedload(Product.category))
        ).unique()
    }
    # The index may briefly lag the database: show only what is still orderable.
    products = [found[i] for i in result.ids if i in found and found[i].is_orderable]
    category_names = {c.slug: c for c in categories(db)}
    return render_template(
        "shop/index.html",
        products=products,
        result=result,
        params=params,
        categories=category_names,
        price_buckets=PRICE_BUCKETS,
        lead_buckets=LEAD_TIME_BUCKETS,
        sort_labels=SORT_LABELS,
        tags=DietaryTag,
        scales=BusinessScale,
        url=lambda **changes: catalogue_url(params, **changes),
    )


@bp.get("/products/<int:product_id>")
@login_required
def product(product_id: int):  # type: ignore[no-untyped-def]
    item = get_session().get(Product, product_id)
    if item is None or not (item.is_orderable or can_manage_listings(current_user, item.vendor)):
        abort(404)
    form = AddToCartForm(quantity=item.min_order_quantity)
    return render_template(
        "shop/product.html",
        product=item,
        form=form,
        can_order=item.is_orderable and has_any_permission(current_user, "order:submit"),
    )

"""Catalogue pages: searching with facets, a product's page with "add to cart", and a
vendor's page with its ratings, punctuality and products."""

from __future__ import annotations

import logging
from decimal import Decimal
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

import catalog
import marketplace
from catalog.models import BusinessScale, DietaryTag, Product, Vendor
from catalog.search import (
    LEAD_TIME_BUCKETS,
    PRICE_BUCKETS,
    SORTS,
    SearchResult,
    SearchUnavailable,
    database_search,
)
from catalog.search_analysis import analyse_query
from catalog.services import categories, orderable_products_query
from marketplace.db import get_session
from marketplace.layouts import render_in_kept_layout
from marketplace.permissions import can_manage_listings, has_any_permission, has_permission
from marketplace.ratings.services import rating_distribution, recent_ratings
from marketplace.search import catalog_index
from marketplace.shop.fragments import catalogue_fragments, code_fingerprint, shared_fragments

log = logging.getLogger(__name__)
bp = Blueprint("shop", __name__, url_prefix="/catalog")
PAGE_SIZE = 24
#: comments shown on a vendor's page
RECENT_RATINGS = 10
#: suggestions offered under the search box while the person types
SUGGESTIONS = 8
#: characters typed before suggestions are offered
SUGGEST_MIN_CHARS = 2
#: characters left as they are in query strings, as Werkzeug's `url_for` does
URL_SAFE = "!$'()*,/:;?@"
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


def catalogue_url(params: dict[str, object], base: str | None = None, **changes: object) -> str:
    """The catalogue URL with some filters changed; the page goes back to 1.

    A page has some 70 of these links (one per facet value), so the query string is encoded
    here as `url_for` would encode it, after one `url_for` for the path (`base`).
    """
    merged = {**params, "page": 1, **changes}
    items: list[tuple[str, object]] = []
    for key, value in merged.items():
        if value in ("", None, [], 1) and not (key == "page" and value != 1):
            continue
        if isinstance(value, list | tuple):
            items.extend(("tag" if key == "tags" else key, item) for item in value)
        else:
            items.append((key, value))
    query = urlencode(items, safe=URL_SAFE)
    path = base if base is not None else url_for("shop.index")
    return f"{path}?{query}" if query else path


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    db = get_session()
    params = _search_params()
    bucket = next((b for b in PRICE_BUCKETS if b.key == params["price"]), None)
    criteria = dict(
        category=str(params["category"]) or None,
        tags=list(params["tags"]),  # type: ignore[call-overload]
        price_min=bucket.price_min if bucket else None,
        price_max=bucket.price_max if bucket else None,
        district=str(params["district"]) or None,
        scale=str(params["scale"]) or None,
        deliverable_within_hours=params["within"],
        sort=params["sort"],
        page=int(params["page"]),  # type: ignore[call-overload]
        page_size=PAGE_SIZE,
    )
    # The part below the header is the same for every viewer of this query, language and index
    # version; any change to a product shown changes the version.
    key = (str(get_locale() or ""), request.script_root, _params_key(params))
    try:
        index = catalog_index()
        shared = shared_fragments(current_app.config["SEARCH_INDEX_DIR"], _code_build())
        version = index.version()
        catalogue = catalogue_fragments.get(version.number, key)
        if catalogue is None:
            # Another worker serving this index may have rendered it already.
            catalogue = shared.get(version.name, key)
            if catalogue is not None:
                catalogue_fragments.put(version.number, key, catalogue)
        if catalogue is None:
            result = index.search(str(params["q"]), **criteria)  # type: ignore[arg-type]
            catalogue = _render_catalogue(db, params, result, simple_search=False)
            catalogue_fragments.put(result.version, key, catalogue)
            shared.put(result.version_name, key, catalogue)
    except SearchUnavailable:
        # The page still answers, from the database; `flask catalog reindex` repairs the index.
        log.warning("search index unreadable; catalogue searched in the database", exc_info=True)
        result = database_search(db, str(params["q"]), **criteria)  # type: ignore[arg-type]
        catalogue = _render_catalogue(db, params, result, simple_search=True)
    return render_in_kept_layout("shop/index.html", catalogue)


def _code_build() -> str:
    """This deploy's fingerprint (templates, translations, code), read once per process: parts
    rendered by other code are never shared with it."""
    build = current_app.extensions.get("catalogue_build")
    if build is None:
        build = code_fingerprint(
            current_app.template_folder or "",
            Path(marketplace.__file__).parent,
            Path(catalog.__file__).parent,
        )
        current_app.extensions["catalogue_build"] = build
    return build


def _params_key(params: dict[str, object]) -> tuple[object, ...]:
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in sorted(params.items())
    )


def _render_catalogue(
    db: Session, params: dict[str, object], result: SearchResult, simple_search: bool
) -> Markup:
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
    # The template escapes what it inserts, so its output is HTML to be kept as it is.
    return Markup(  # noqa: S704
        render_template(
            "shop/_catalogue.html",
            products=products,
            result=result,
            simple_search=simple_search,
            params=params,
            categories=category_names,
            price_buckets=PRICE_BUCKETS,
            lead_buckets=LEAD_TIME_BUCKETS,
            sort_labels=SORT_LABELS,
            tags=DietaryTag,
            scales=BusinessScale,
            url=partial(catalogue_url, params, url_for("shop.index")),
        )
    )


def _name_starts_with(word: str):  # type: ignore[no-untyped-def]
    """Products with a word of their name starting with `word` (the word being typed)."""
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    name = func.lower(Product.name)
    return or_(
        name.like(f"{escaped}%", escape="\\"),
        name.like(f"% {escaped}%", escape="\\"),
    )


@bp.get("/suggest")
@login_required
def suggest():  # type: ignore[no-untyped-def]
    """Up to eight product names for what the person is typing in the search box, as JSON.

    The catalogue search answers first (whole words, and its spelling correction); while the
    last word is still being typed, names with a word starting with it fill the rest. Only
    products that can be ordered now are offered, as on the catalogue page.
    """
    text = request.args.get("q", "").strip()[:100]
    if len(text) < SUGGEST_MIN_CHARS:
        return jsonify(query=text, suggestions=[])
    db = get_session()
    ids: list[int] = []
    # Only words the search knows: punctuation or stop words alone would match everything.
    if analyse_query(text):
        try:
            ids = catalog_index().search(text, page_size=SUGGESTIONS * 2, with_facets=False).ids
        except SearchUnavailable:
            log.warning("search index unreadable; suggestions from the database", exc_info=True)
            ids = database_search(db, text, page_size=SUGGESTIONS * 2).ids
    found = {
        p.id: p
        for p in db.scalars(
            select(Product)
            .where(Product.id.in_(ids))
            .options(joinedload(Product.vendor), joinedload(Product.category))
        ).unique()
    }
    products = [found[i] for i in ids if i in found and found[i].is_orderable]
    words = text.split()
    if len(products) < SUGGESTIONS and not request.args.get("q", "").endswith(" "):
        typing = orderable_products_query(" ".join(words[:-1])).where(_name_starts_with(words[-1]))
        products += [
            p for p in db.scalars(typing.limit(SUGGESTIONS * 2)).unique() if p.is_orderable
        ]
    locale = str(get_locale() or "id")
    suggestions: list[dict[str, object]] = []
    seen: set[str] = set()
    for item in products:
        key = item.name.casefold()
        if key in seen:
            continue
        seen.add(key)
        suggestions.append(
            {
                "name": item.name,
                "category": item.category.name_for(locale),
                "url": url_for("shop.index", q=item.name),
            }
        )
        if len(suggestions) == SUGGESTIONS:
            break
    return jsonify(query=text, suggestions=suggestions)


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


@bp.app_template_global()
def rating_average(tenths: int) -> str:
    """An average in tenths of a star as the person's language writes it: "4,3" or "4.3"."""
    return format_decimal(Decimal(tenths) / 10, format="0.0")


def _may_see_vendor(vendor: Vendor) -> bool:
    # Agencies see verified vendors only; a vendor's own people and curators see it always.
    return (
        vendor.is_verified
        or can_manage_listings(current_user, vendor)
        or has_permission(current_user, "vendor:verify")
    )


@bp.get("/vendors/<int:vendor_id>")
@login_required
def vendor(vendor_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    business = db.get(Vendor, vendor_id)
    if business is None or not _may_see_vendor(business):
        abort(404)
    distribution = rating_distribution(db, business.id)
    rated = sum(distribution.values())
    products = db.scalars(
        orderable_products_query()
        .where(Product.vendor_id == business.id)
        .order_by(None)
        .order_by(Product.name, Product.id)
    ).unique()
    return render_template(
        "shop/vendor.html",
        vendor=business,
        distribution=[
            (stars, count, (count * 100 + rated // 2) // rated if rated else 0)
            for stars, count in distribution.items()
        ],
        rated=rated,
        ratings=recent_ratings(db, business.id, RECENT_RATINGS, with_comment_only=True),
        products=list(products),
    )

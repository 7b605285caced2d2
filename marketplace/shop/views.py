"""Catalogue pages: browsing, searching and a product's page with "add to cart"."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from catalog.models import Product
from catalog.services import categories, orderable_products_query
from marketplace.db import get_session
from marketplace.permissions import can_manage_listings, has_any_permission

bp = Blueprint("shop", __name__, url_prefix="/catalog")
PAGE_SIZE = 24


class AddToCartForm(FlaskForm):
    quantity = IntegerField(
        _l("Quantity"),
        validators=[
            InputRequired(_l("Enter a quantity.")),
            NumberRange(min=1, max=100_000, message=_l("Enter a quantity from 1 to 100000.")),
        ],
    )


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    db = get_session()
    text = request.args.get("q", "").strip()[:200]
    category = request.args.get("category", "").strip()[:60]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = orderable_products_query(text, category)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    products = list(db.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).unique())
    return render_template(
        "shop/index.html",
        products=products,
        categories=categories(db),
        text=text,
        category=category,
        page=page,
        total=total,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
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

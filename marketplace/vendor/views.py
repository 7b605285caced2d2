"""The vendor's desk: incoming orders to answer and deliver, and the listings."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from catalog.models import ProductStatus, Unit
from catalog.services import ListingData, categories
from marketplace.db import get_session
from marketplace.errors import DomainError
from marketplace.i18n import current_locale
from marketplace.ordering import services as ordering
from marketplace.ordering.forms import ReasonForm
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.vendor import services
from marketplace.vendor.forms import ProductForm
from marketplace.web import permission_required, show_error

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.get("/")
@permission_required("listing:manage", "order:fulfil")
def desk():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    active = list(
        db.scalars(
            select(Order)
            .where(
                Order.vendor_id == vendor.id,
                Order.status.in_([OrderStatus.APPROVED, OrderStatus.ACCEPTED]),
            )
            .order_by(Order.delivery_date, Order.delivery_time, Order.id)
        )
    )
    return render_template(
        "vendor/desk.html",
        vendor=vendor,
        to_answer=[o for o in active if o.status is OrderStatus.APPROVED],
        to_deliver=[o for o in active if o.status is OrderStatus.ACCEPTED],
        products=services.vendor_products(db, vendor),
    )


def _listing_data(form: ProductForm) -> ListingData:
    return ListingData(
        name=form.name.data or "",
        description=form.description.data or "",
        category_id=form.category_id.data,
        unit=Unit(form.unit.data),
        price=form.price.data,
        min_order_quantity=form.min_order_quantity.data,
        lead_time_hours=form.lead_time_hours.data,
        status=ProductStatus(form.status.data),
    )


@bp.route("/products/new", methods=["GET", "POST"])
@permission_required("listing:manage")
def new_product():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    form = ProductForm(categories=categories(db), locale=current_locale())
    if form.validate_on_submit():
        try:
            product = services.create_product(db, current_user, vendor, _listing_data(form))
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("“%(name)s” is listed.", name=product.name), "success")
            return redirect(url_for("vendor.desk"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "vendor/product_form.html", form=form, vendor=vendor, product=None
    ), status


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@permission_required("listing:manage")
def edit_product(product_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    product = services.get_own_product(db, current_user, product_id)
    form = ProductForm(
        obj=product if request.method == "GET" else None,
        categories=categories(db),
        locale=current_locale(),
    )
    if request.method == "GET":
        form.unit.data = product.unit.value
        form.status.data = product.status.value
    if form.validate_on_submit():
        try:
            services.update_product(db, current_user, product, _listing_data(form))
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("“%(name)s” is saved.", name=product.name), "success")
            return redirect(url_for("vendor.desk"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "vendor/product_form.html", form=form, vendor=product.vendor, product=product
    ), status


def _vendor_order(order_id: int) -> Order:
    return ordering.get_visible_order(get_session(), current_user, order_id)


def _done(order: Order, message: str):  # type: ignore[no-untyped-def]
    get_session().commit()
    flash(message, "success")
    return redirect(url_for("ordering.order", order_id=order.id))


@bp.post("/orders/<int:order_id>/accept")
@permission_required("order:fulfil")
def accept(order_id: int):  # type: ignore[no-untyped-def]
    order = ordering.accept_order(get_session(), current_user, _vendor_order(order_id))
    return _done(order, _("You accepted order %(ref)s. Deliver it on time.", ref=order.reference))


@bp.post("/orders/<int:order_id>/decline")
@permission_required("order:fulfil")
def decline(order_id: int):  # type: ignore[no-untyped-def]
    order = _vendor_order(order_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("ordering.order", order_id=order.id))
    ordering.decline_order(get_session(), current_user, order, form.reason.data or "")
    return _done(order, _("You declined order %(ref)s.", ref=order.reference))


@bp.post("/orders/<int:order_id>/deliver")
@permission_required("order:fulfil")
def deliver(order_id: int):  # type: ignore[no-untyped-def]
    order = ordering.deliver_order(
        get_session(), current_user, _vendor_order(order_id), request.form.get("note", "")[:1000]
    )
    return _done(
        order,
        _(
            "Order %(ref)s is marked delivered. The agency confirms receipt next.",
            ref=order.reference,
        ),
    )

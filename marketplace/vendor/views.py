"""The vendor's desk: incoming orders to answer and deliver, and the listings."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from catalog import documents, listings_csv, photos
from catalog.models import DietaryTag, DocumentKind, ProductStatus, Unit
from catalog.services import ListingData, categories
from marketplace.db import get_session, will_write
from marketplace.errors import DomainError
from marketplace.i18n import current_locale
from marketplace.ordering import services as ordering
from marketplace.ordering.forms import ReasonForm
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.vendor import services
from marketplace.vendor.documents import record_expiry
from marketplace.vendor.forms import (
    CapacityForm,
    ClosedDayForm,
    DocumentForm,
    ImportForm,
    PhotoForm,
    ProductForm,
    TaxNumbersForm,
)
from marketplace.web import (
    order_rules,
    permission_required,
    show_error,
    today_in_jakarta,
    upload_dir,
)

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


@bp.get("/")
@permission_required("listing:manage", "order:fulfil")
def desk():  # type: ignore[no-untyped-def]
    will_write()  # document expiry below may delist products
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    today = today_in_jakarta()
    # Expiry also runs here, so a vendor never sees a listing on sale that should not be.
    report = documents.expire_documents(db, today, vendor=vendor)
    if report.expired or report.warnings:
        record_expiry(db, report)
        db.commit()
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
        expiring=documents.documents_expiring_soon(vendor, today),
        delisting=lambda product: documents.delisting_document(db, product),
    )


@bp.get("/payments")
@permission_required("listing:manage", "order:fulfil")
def payments_page():  # type: ignore[no-untyped-def]
    """The money coming: each received order's net payable, withheld taxes, expected and
    actual payment dates."""
    from marketplace.payments import services as payments

    db = get_session()
    vendor = services.current_vendor(db, current_user)
    due_days = order_rules().payment_due_days
    orders = list(
        db.scalars(
            select(Order)
            .where(
                Order.vendor_id == vendor.id,
                Order.status.in_([OrderStatus.RECEIVED, OrderStatus.PAID, OrderStatus.RECONCILED]),
            )
            .options(joinedload(Order.agency))
            .order_by(Order.received_at.desc(), Order.id.desc())
            .limit(100)
        )
    )
    money = payments.money_of_orders(db, [order.id for order in orders])
    today = today_in_jakarta()
    rows = []
    for order in orders:
        owed = money[order.id]
        due = payments.payment_due_on(order, due_days)
        rows.append(
            {
                "order": order,
                "net_payable": owed.net_payable,
                "withheld": owed.withheld,
                "paid": owed.paid,
                "due_on": due,
                "late": owed.paid < owed.net_payable and due is not None and due < today,
            }
        )
    return render_template(
        "vendor/payments.html",
        vendor=vendor,
        rows=rows,
        expected=sum(max(r["net_payable"] - r["paid"], 0) for r in rows),
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
        portions_per_unit=form.portions_per_unit.data or 1,
        tags=tuple(DietaryTag(t) for t in form.tags.data or []),
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
        form.tags.data = list(product.tags or [])
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
        "vendor/product_form.html",
        form=form,
        vendor=product.vendor,
        product=product,
        photo_form=PhotoForm(),
    ), status


def _vendor_order(order_id: int) -> Order:
    return ordering.get_visible_order(get_session(), current_user, order_id)


def _version() -> int | None:
    """The order version the person's page showed, if the form sent it."""
    return request.form.get("version", type=int)


def _done(order: Order, message: str):  # type: ignore[no-untyped-def]
    get_session().commit()
    flash(message, "success")
    return redirect(url_for("ordering.order", order_id=order.id))


@bp.post("/orders/<int:order_id>/accept")
@permission_required("order:fulfil")
def accept(order_id: int):  # type: ignore[no-untyped-def]
    order = ordering.accept_order(
        get_session(),
        current_user,
        _vendor_order(order_id),
        version=_version(),
        rules=order_rules(),
    )
    return _done(order, _("You accepted order %(ref)s. Deliver it on time.", ref=order.reference))


@bp.post("/orders/<int:order_id>/decline")
@permission_required("order:fulfil")
def decline(order_id: int):  # type: ignore[no-untyped-def]
    order = _vendor_order(order_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("ordering.order", order_id=order.id))
    ordering.decline_order(
        get_session(), current_user, order, form.reason.data or "", version=_version()
    )
    return _done(order, _("You declined order %(ref)s.", ref=order.reference))


# Photos ----------------------------------------------------------------------------


@bp.post("/products/<int:product_id>/photos")
@permission_required("listing:manage")
def add_photo(product_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    product = services.get_own_product(db, current_user, product_id)
    form = PhotoForm()
    if not form.validate_on_submit():
        for message in form.photo.errors:
            flash(str(message), "error")
        return redirect(url_for("vendor.edit_product", product_id=product.id))
    try:
        services.add_photo(db, current_user, product, form.photo.data.read(), upload_dir("photos"))
    except DomainError as error:
        db.rollback()
        flash(str(error.message), "error")
    else:
        db.commit()
        flash(
            _("The photo is added. The curator looks at new photos before they are shown."),
            "success",
        )
    return redirect(url_for("vendor.edit_product", product_id=product.id))


@bp.post("/products/<int:product_id>/photos/<int:photo_id>/delete")
@permission_required("listing:manage")
def delete_photo(product_id: int, photo_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    product = services.get_own_product(db, current_user, product_id)
    key = services.remove_photo(db, current_user, product, photo_id)
    db.commit()
    photos.delete_photo(key, upload_dir("photos"))
    flash(_("The photo is removed."), "success")
    return redirect(url_for("vendor.edit_product", product_id=product.id))


@bp.post("/products/<int:product_id>/photos/<int:photo_id>/cover")
@permission_required("listing:manage")
def cover_photo(product_id: int, photo_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    product = services.get_own_product(db, current_user, product_id)
    services.set_cover_photo(db, current_user, product, photo_id)
    db.commit()
    flash(_("The cover photo is changed."), "success")
    return redirect(url_for("vendor.edit_product", product_id=product.id))


# Documents -------------------------------------------------------------------------


@bp.route("/documents", methods=["GET", "POST"])
@permission_required("listing:manage")
def documents_page():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    form = DocumentForm()
    if form.validate_on_submit():
        data = documents.DocumentData(
            kind=DocumentKind(form.kind.data),
            number=form.number.data or "",
            issued_on=form.issued_on.data,
            expires_on=form.expires_on.data,
        )
        try:
            services.upload_document(
                db,
                current_user,
                vendor,
                data,
                form.file.data.read(),
                upload_dir("documents"),
                today_in_jakarta(),
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("The document is uploaded. A curator will check it."), "success")
            return redirect(url_for("vendor.documents_page"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "vendor/documents.html", vendor=vendor, form=form, today=today_in_jakarta()
    ), status


@bp.get("/documents/<int:document_id>/file")
@login_required
def document_file(document_id: int):  # type: ignore[no-untyped-def]
    document = services.own_document(get_session(), current_user, document_id)
    path = documents.document_path(upload_dir("documents"), document.file_name)
    if path is None:
        abort(404)
    response = send_file(path, max_age=0, conditional=True)
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Capacity --------------------------------------------------------------------------


@bp.route("/capacity", methods=["GET", "POST"])
@permission_required("listing:manage")
def capacity():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    form = CapacityForm(obj=vendor if request.method == "GET" else None, prefix="capacity")
    closed_form = ClosedDayForm(prefix="closed")
    status = 200
    if request.method == "POST" and "capacity-submit" in request.form:
        if form.validate_on_submit():
            try:
                services.update_capacity(
                    db, current_user, vendor, form.max_portions_per_day.data, form.order_cutoff.data
                )
            except DomainError as error:
                db.rollback()
                show_error(form, error)
            else:
                db.commit()
                flash(_("Your capacity is saved."), "success")
                return redirect(url_for("vendor.capacity"))
        status = 400
    elif request.method == "POST" and "closed-submit" in request.form:
        if closed_form.validate_on_submit():
            try:
                services.close_day(
                    db,
                    current_user,
                    vendor,
                    closed_form.day.data,
                    closed_form.reason.data or "",
                    today_in_jakarta(),
                )
            except DomainError as error:
                db.rollback()
                show_error(closed_form, error)
            else:
                db.commit()
                flash(_("The day is marked closed."), "success")
                return redirect(url_for("vendor.capacity"))
        status = 400
    return render_template(
        "vendor/capacity.html", vendor=vendor, form=form, closed_form=closed_form
    ), status


@bp.post("/capacity/closed/<int:closed_day_id>/delete")
@permission_required("listing:manage")
def reopen_day(closed_day_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    services.reopen_day(db, current_user, vendor, closed_day_id)
    db.commit()
    flash(_("The day is open again."), "success")
    return redirect(url_for("vendor.capacity"))


@bp.route("/tax", methods=["GET", "POST"])
@permission_required("listing:manage")
def tax_numbers():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    form = TaxNumbersForm(obj=vendor if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            services.update_regional_tax_number(
                db, current_user, vendor, form.regional_tax_number.data
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("Your tax registration is saved."), "success")
            return redirect(url_for("vendor.desk"))
    status = 400 if request.method == "POST" else 200
    return render_template("vendor/tax.html", vendor=vendor, form=form), status


# Bulk listings ---------------------------------------------------------------------


@bp.get("/products/export.csv")
@permission_required("listing:manage")
def export_products():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    body = listings_csv.export_listings(db, vendor).encode("utf-8")
    response = make_response(body)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="listings-{vendor.id}-{today_in_jakarta().isoformat()}.csv"'
    )
    return response


@bp.route("/products/import", methods=["GET", "POST"])
@permission_required("listing:manage")
def import_products():  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = services.current_vendor(db, current_user)
    form = ImportForm()
    errors: list[listings_csv.RowError] = []
    if form.validate_on_submit():
        try:
            summary = services.import_listings(db, current_user, vendor, form.file.data.read())
        except listings_csv.ImportFailed as failure:
            db.rollback()
            errors = failure.errors
        else:
            db.commit()
            flash(
                _(
                    "Imported: %(created)d new, %(updated)d changed, %(unchanged)d unchanged. "
                    "New and materially changed listings wait for the curator.",
                    created=summary.created,
                    updated=summary.updated,
                    unchanged=summary.unchanged,
                ),
                "success",
            )
            return redirect(url_for("vendor.desk"))
    status = 400 if request.method == "POST" else 200
    return render_template("vendor/import.html", vendor=vendor, form=form, errors=errors), status


from marketplace.vendor import kitchen  # noqa: E402, F401  (routes on this blueprint)

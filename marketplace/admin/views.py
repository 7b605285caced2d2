"""Curator pages: verify registered vendors, list and create government users."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from catalog.models import Category, Product, Vendor, VendorDocument, VendorStatus
from catalog.services import CategoryData, category_tree, review_queue
from marketplace.accounts import services as accounts
from marketplace.accounts.forms import StaffUserForm
from marketplace.accounts.models import AGENCY_ROLES, PROVINCE_ROLES, Agency, Role, User
from marketplace.admin import services
from marketplace.admin.forms import AgencyForm, CategoryForm, UnitCostForm
from marketplace.db import get_session
from marketplace.errors import DomainError, NotFound
from marketplace.i18n import current_locale
from marketplace.ordering.caps import PaxPriceCap
from marketplace.ordering.forms import ReasonForm
from marketplace.web import order_rules, permission_required, show_error, today_in_jakarta

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/vendors")
@permission_required("vendor:verify")
def vendors():  # type: ignore[no-untyped-def]
    db = get_session()
    rows = list(db.scalars(select(Vendor).order_by(Vendor.status.desc(), Vendor.trading_name)))
    return render_template(
        "admin/vendors.html",
        pending=[v for v in rows if v.status is VendorStatus.PENDING],
        others=[v for v in rows if v.status is not VendorStatus.PENDING],
    )


@bp.post("/vendors/<int:vendor_id>/verify")
@permission_required("vendor:verify")
def verify_vendor(vendor_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    vendor = db.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound(_("No such vendor."))
    accounts.verify_vendor(db, current_user, vendor)
    db.commit()
    flash(_("%(name)s is verified and can sell.", name=vendor.trading_name), "success")
    return redirect(url_for("admin.vendors"))


@bp.get("/users")
@permission_required("user:manage")
def users():  # type: ignore[no-untyped-def]
    rows = list(get_session().scalars(select(User).order_by(User.name)))
    return render_template("admin/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("user:manage")
def new_user():  # type: ignore[no-untyped-def]
    db = get_session()
    form = StaffUserForm()
    agencies = list(db.scalars(select(Agency).order_by(Agency.name)))
    form.agency_id.choices = [(0, _("— none (province-wide roles only) —"))] + [
        (a.id, a.name) for a in agencies
    ]
    form.roles.choices = [(r.value, r.label) for r in Role if r in AGENCY_ROLES | PROVINCE_ROLES]
    if form.validate_on_submit():
        try:
            user = accounts.create_staff_user(
                db,
                current_user,
                accounts.NewStaffUser(
                    email=form.email.data or "",
                    name=form.name.data or "",
                    position=form.position.data or "",
                    password=form.password.data or "",
                    roles=tuple(Role(r) for r in form.roles.data or []),
                    agency_id=form.agency_id.data or None,
                ),
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("The account of %(name)s is created.", name=user.name), "success")
            return redirect(url_for("admin.users"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form), status


@bp.get("/listings")
@permission_required("catalog:curate")
def listings():  # type: ignore[no-untyped-def]
    return render_template("admin/listings.html", products=review_queue(get_session()))


def _listing(product_id: int) -> Product:
    product = get_session().get(Product, product_id)
    if product is None:
        raise NotFound(_("No such product."))
    return product


@bp.post("/listings/<int:product_id>/approve")
@permission_required("catalog:curate")
def approve_listing(product_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    product = services.approve_listing(db, current_user, _listing(product_id))
    db.commit()
    flash(_("“%(name)s” is approved and on sale.", name=product.name), "success")
    return redirect(url_for("admin.listings"))


@bp.post("/listings/<int:product_id>/reject")
@permission_required("catalog:curate")
def reject_listing(product_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("admin.listings"))
    product = services.reject_listing(
        db, current_user, _listing(product_id), form.reason.data or ""
    )
    db.commit()
    flash(_("“%(name)s” is sent back to the vendor.", name=product.name), "success")
    return redirect(url_for("admin.listings"))


@bp.get("/documents")
@permission_required("vendor:verify")
def documents():  # type: ignore[no-untyped-def]
    return render_template("admin/documents.html", documents=services.document_queue(get_session()))


def _document(document_id: int) -> VendorDocument:
    document = get_session().get(VendorDocument, document_id)
    if document is None:
        raise NotFound(_("No such document."))
    return document


@bp.post("/documents/<int:document_id>/verify")
@permission_required("vendor:verify")
def verify_document(document_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    document = _document(document_id)
    relisted = services.verify_document(db, current_user, document, today_in_jakarta())
    db.commit()
    flash(
        ngettext(
            "The document is verified; %(num)d listing is back on sale.",
            "The document is verified; %(num)d listings are back on sale.",
            len(relisted),
        )
        if relisted
        else _("The document is verified."),
        "success",
    )
    return redirect(url_for("admin.documents"))


@bp.post("/documents/<int:document_id>/reject")
@permission_required("vendor:verify")
def reject_document(document_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return redirect(url_for("admin.documents"))
    services.reject_document(db, current_user, _document(document_id), form.reason.data or "")
    db.commit()
    flash(_("The document is rejected; the vendor sees your reason."), "success")
    return redirect(url_for("admin.documents"))


@bp.route("/categories", methods=["GET", "POST"])
@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@permission_required("catalog:curate")
def categories(category_id: int | None = None):  # type: ignore[no-untyped-def]
    db = get_session()
    category = db.get(Category, category_id) if category_id else None
    if category_id and category is None:
        raise NotFound(_("No such category."))
    form = CategoryForm(obj=category if request.method == "GET" else None)
    tree = category_tree(db)
    form.parent_id.choices = [(0, _("— top level —"))] + [
        (c.id, "— " * depth + c.name_for(current_locale()))
        for c, depth in tree
        if category is None or c.id != category.id
    ]
    if request.method == "GET" and category is not None:
        form.parent_id.data = category.parent_id or 0
    if form.validate_on_submit():
        data = CategoryData(
            slug=form.slug.data or "",
            name_id=form.name_id.data or "",
            name_en=form.name_en.data or "",
            parent_id=form.parent_id.data or None,
            position=form.position.data or 0,
        )
        try:
            saved = services.save_category(db, current_user, data, category)
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(
                _("The category “%(name)s” is saved.", name=saved.name_for(current_locale())),
                "success",
            )
            return redirect(url_for("admin.categories"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/categories.html", form=form, tree=tree, category=category), status


@bp.route("/agencies", methods=["GET", "POST"])
@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@permission_required("user:manage")
def agencies(agency_id: int | None = None):  # type: ignore[no-untyped-def]
    db = get_session()
    agency = db.get(Agency, agency_id) if agency_id else None
    if agency_id and agency is None:
        raise NotFound(_("No such agency."))
    form = AgencyForm(obj=agency if request.method == "GET" else None)
    if form.validate_on_submit():
        data = services.AgencyData(
            code=form.code.data or "",
            name=form.name.data or "",
            address=form.address.data or "",
            city=form.city.data or "",
            second_approval_threshold=form.second_approval_threshold.data,
            split_purchase_threshold=form.split_purchase_threshold.data,
        )
        try:
            saved = services.save_agency(db, current_user, data, agency)
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("%(name)s is saved.", name=saved.name), "success")
            return redirect(url_for("admin.agencies"))
    status = 400 if request.method == "POST" else 200
    rows = list(db.scalars(select(Agency).order_by(Agency.name)))
    return render_template(
        "admin/agencies.html",
        form=form,
        agency=agency,
        agencies=rows,
        defaults=order_rules(),
    ), status


@bp.route("/unit-costs", methods=["GET", "POST"])
@permission_required("catalog:curate")
def unit_costs():  # type: ignore[no-untyped-def]
    db = get_session()
    form = UnitCostForm()
    form.category_id.choices = [
        (c.id, "— " * depth + c.name_for(current_locale())) for c, depth in category_tree(db)
    ]
    form.agency_id.choices = [(0, _("Every agency (province standard)"))] + [
        (a.id, a.name) for a in db.scalars(select(Agency).order_by(Agency.name))
    ]
    if form.validate_on_submit():
        try:
            services.set_unit_cost(
                db,
                current_user,
                form.category_id.data,
                form.agency_id.data or None,
                form.max_per_pax.data,
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            flash(_("The standard unit cost is saved."), "success")
            return redirect(url_for("admin.unit_costs"))
    status = 400 if request.method == "POST" else 200
    caps = list(
        db.scalars(select(PaxPriceCap).order_by(PaxPriceCap.category_id, PaxPriceCap.agency_id))
    )
    return render_template("admin/unit_costs.html", form=form, caps=caps), status

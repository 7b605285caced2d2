"""Curator pages: verify registered vendors, list and create government users."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from catalog.models import Vendor, VendorStatus
from marketplace.accounts import services as accounts
from marketplace.accounts.forms import StaffUserForm
from marketplace.accounts.models import AGENCY_ROLES, PROVINCE_ROLES, Agency, Role, User
from marketplace.db import get_session
from marketplace.errors import DomainError, NotFound
from marketplace.web import permission_required, show_error

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

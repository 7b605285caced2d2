"""Logging in and out, vendor registration, and changing one's password."""

from __future__ import annotations

import math
import time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME

from catalog.models import BusinessScale, BusinessType
from marketplace.accounts import services
from marketplace.accounts.forms import ChangePasswordForm, LoginForm, VendorRegistrationForm
from marketplace.accounts.recent import mark_recent
from marketplace.db import get_session
from marketplace.errors import DomainError
from marketplace.extensions import limiter
from marketplace.security import safe_next_url
from marketplace.web import show_error

bp = Blueprint("accounts", __name__)


def _start_session(user, remember: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Log in with a fresh session, so that a session id planted beforehand is worthless."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user, remember=remember)
    mark_recent()


def _login_key() -> str:
    """One client address trying one e-mail address (pseudonymised, as in the logs)."""
    return f"{get_remote_address()}|{services.email_digest(request.form.get('email', ''))}"


def _rate_limits_off() -> bool:
    # Checked per app: the limiter object is shared by every app made in one process (tests).
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def _throttled(retry_at: float) -> tuple[str, int, dict[str, str]]:
    """The same page for a throttled client and a locked account: nothing tells them apart."""
    seconds = max(retry_at - time.time(), 1)
    # the limiter rounds its reset time up by a second or so: "1 minute", not "2 minutes"
    minutes = max(math.ceil((seconds - 2) / 60), 1)
    page = render_template("errors/429.html", minutes=minutes)
    return page, 429, {"Retry-After": str(math.ceil(seconds))}


@bp.errorhandler(429)
def _too_many_attempts(error):  # type: ignore[no-untyped-def]
    current = limiter.current_limit
    retry_at = current.reset_at if current is not None else time.time() + 60
    services.login_log.info(
        "login attempt email=%s ip=%s outcome=throttled",
        services.email_digest(request.form.get("email", "")),
        request.remote_addr or "-",
    )
    return _throttled(retry_at)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    key_func=_login_key,
    methods=["POST"],
    exempt_when=_rate_limits_off,
    scope="email",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_IP_RATE_LIMIT"],
    methods=["POST"],
    exempt_when=_rate_limits_off,
    scope="ip",
)
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        attempt = services.attempt_login(
            db, form.email.data or "", form.password.data or "", ip=request.remote_addr or ""
        )
        db.commit()  # failures count and locks hold whatever the outcome
        if attempt.outcome == "locked" and attempt.locked_until is not None:
            return _throttled(attempt.locked_until.timestamp())
        if attempt.user is None:
            form.form_errors.append(_("The email or password is not correct."))
        elif attempt.outcome == "password_ok":  # the second factor is still due
            session["pending_login"] = {
                "user": attempt.user.get_id(),
                "at": int(time.time()),
                "remember": bool(form.remember.data),
                "next": safe_next_url(request.args.get("next"), url_for("main.home")),
            }
            return redirect(url_for("accounts.second_factor"))
        else:
            _start_session(attempt.user, remember=bool(form.remember.data))
            flash(_("Welcome, %(name)s.", name=attempt.user.name), "success")
            return redirect(safe_next_url(request.args.get("next"), url_for("main.home")))
    return render_template("accounts/login.html", form=form), 200 if not form.errors else 400


def _keep_this_session() -> None:
    """After the user's session version moved: this browser carries on, the others end."""
    remembered = bool(
        request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME))
    )
    login_user(current_user._get_current_object(), remember=remembered)
    mark_recent()


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    db = get_session()
    services.end_all_sessions(db, current_user)  # logging out here logs out everywhere
    db.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("main.home"))


@bp.route("/register", methods=["GET", "POST"])
def register():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = VendorRegistrationForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            user = services.register_vendor(
                db,
                services.VendorRegistration(
                    email=form.email.data or "",
                    password=form.password.data or "",
                    name=form.name.data or "",
                    legal_name=form.legal_name.data or "",
                    trading_name=form.trading_name.data or "",
                    business_type=BusinessType(form.business_type.data),
                    scale=BusinessScale(form.scale.data),
                    district=form.district.data or "",
                    city=form.city.data or "",
                    phone=form.phone.data or "",
                    nib=form.nib.data or "",
                    npwp=form.npwp.data or "",
                    regional_tax_number=form.regional_tax_number.data or "",
                    service_districts=form.service_districts.data or "",
                    jakpreneur_number=form.jakpreneur_number.data or "",
                    bank_name=form.bank_name.data or "",
                    bank_account_number=form.bank_account_number.data or "",
                    bank_account_holder=form.bank_account_holder.data or "",
                    contact_person=form.contact_person.data or "",
                ),
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            _start_session(user)
            flash(
                _(
                    "Your business is registered. A curator will verify it before your products "
                    "appear in the catalogue."
                ),
                "success",
            )
            return redirect(url_for("vendor.desk"))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("accounts/register.html", form=form), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    form = ChangePasswordForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            services.change_password(
                db, current_user, form.current_password.data or "", form.new_password.data or ""
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            _keep_this_session()
            flash(
                _("Your password has been changed. Other sessions have been logged out."), "success"
            )
            return redirect(url_for("main.home"))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("accounts/password.html", form=form), status

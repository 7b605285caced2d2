"""The second log-in step, the account's security page (two-step log-in, devices), and the
password confirmation that sensitive actions ask for."""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts import services, two_factor
from marketplace.accounts.forms import SecondFactorForm, TwoFactorChangeForm, TwoFactorSetupForm
from marketplace.accounts.recent import CODE_FIELD, PASSWORD_FIELD, confirm_identity
from marketplace.accounts.recent import confirmation_page as _confirmation_page
from marketplace.accounts.views import (
    _keep_this_session,
    _rate_limits_off,
    _start_session,
    _throttled,
    bp,
)
from marketplace.db import get_session
from marketplace.errors import DomainError
from marketplace.extensions import limiter
from marketplace.security import safe_next_url
from marketplace.web import show_error

#: seconds between the password and the code of one log-in
PENDING_LOGIN_SECONDS = 300
#: pages a person whose role requires two-step log-in may still open before setting it up
_OPEN_WHILE_SETTING_UP = {
    "accounts.two_factor_setup",
    "accounts.security",
    "accounts.logout",
    "main.set_language",
    "static",
    "health.alive",
    "health.ready",
    "main.health",
}


def _required_setting() -> str:
    return current_app.config["TWO_FACTOR_REQUIRED_ROLES"]


@bp.before_app_request
def _require_second_factor_set_up():  # type: ignore[no-untyped-def]
    """Holders of roles that require two-step log-in set it up before anything else."""
    # The cheap checks first: health probes and static files never load the user.
    if request.endpoint in _OPEN_WHILE_SETTING_UP or (request.endpoint or "").startswith("api."):
        return None
    if not _required_setting().strip():
        return None
    if not current_user.is_authenticated or current_user.has_two_factor:
        return None
    if not two_factor.is_required(current_user, _required_setting()):
        return None
    flash(_("Your role requires two-step log-in. Set it up to carry on."), "info")
    return redirect(url_for("accounts.two_factor_setup"))


def _pending_user():  # type: ignore[no-untyped-def]
    pending = session.get("pending_login")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_LOGIN_SECONDS:
        session.pop("pending_login", None)
        return None, None
    user = services.load_user(get_session(), str(pending.get("user", "")))
    return user, pending


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_IP_RATE_LIMIT"],
    methods=["POST"],
    exempt_when=_rate_limits_off,
    scope="second-factor",
)
def second_factor():  # type: ignore[no-untyped-def]
    user, pending = _pending_user()
    if user is None:
        flash(_("Log in again: the log-in took too long or was not started."), "info")
        return redirect(url_for("accounts.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        db = get_session()
        if user.locked_until is not None and user.locked_until.timestamp() > time.time():
            session.pop("pending_login", None)
            return _throttled(user.locked_until.timestamp())
        method = two_factor.verify(db, user, form.code.data or "")
        if method is not None:
            services.complete_login(db, user)
            db.commit()
            services.login_log.info(
                "login attempt email=%s ip=%s outcome=success factor=%s",
                services.email_digest(user.email),
                request.remote_addr or "-",
                method,
            )
            _start_session(user, remember=bool(pending.get("remember")))
            if method == "recovery":
                left = two_factor.recovery_codes_left(db, user)
                flash(
                    _(
                        "You used a recovery code; %(n)d are left. Make new ones on your "
                        "security page if you lost your phone.",
                        n=left,
                    ),
                    "info",
                )
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(safe_next_url(pending.get("next"), url_for("main.home")))
        attempt = services.count_failed_login(db, user)
        db.commit()
        services.login_log.info(
            "login attempt email=%s ip=%s outcome=bad_second_factor",
            services.email_digest(user.email),
            request.remote_addr or "-",
        )
        if attempt.locked_until is not None:
            session.pop("pending_login", None)
            return _throttled(attempt.locked_until.timestamp())
        form.code.errors = [_("The code is not correct.")]
    status = 400 if form.errors else 200
    return render_template("accounts/second_factor.html", form=form), status


@bp.get("/account/security")
@login_required
def security():  # type: ignore[no-untyped-def]
    db = get_session()
    user = current_user._get_current_object()
    return render_template(
        "accounts/security.html",
        required=two_factor.is_required(user, _required_setting()),
        codes_left=two_factor.recovery_codes_left(db, user) if user.has_two_factor else 0,
        change_form=TwoFactorChangeForm(),
        remember_days=current_app.config["REMEMBER_COOKIE_DURATION"].days,
    )


def _recovery_codes_page(codes: list[str]):  # type: ignore[no-untyped-def]
    page = render_template("accounts/recovery_codes.html", codes=codes)
    return page, 200, {"Cache-Control": "no-store"}


@bp.route("/account/two-factor/setup", methods=["GET", "POST"])
@login_required
def two_factor_setup():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    if user.has_two_factor:
        flash(_("Two-step log-in is already on."), "info")
        return redirect(url_for("accounts.security"))
    secret = session.get("totp_setup_secret")
    if not secret:
        secret = session["totp_setup_secret"] = two_factor.new_secret()
    form = TwoFactorSetupForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            codes = two_factor.enable(
                db, user, secret, form.code.data or "", form.password.data or ""
            )
        except DomainError as error:
            db.rollback()
            show_error(form, error)
        else:
            db.commit()
            session.pop("totp_setup_secret", None)
            flash(_("Two-step log-in is on."), "success")
            return _recovery_codes_page(codes)
    uri = two_factor.provisioning_uri(user, secret, current_app.config["TWO_FACTOR_ISSUER"])
    page = render_template(
        "accounts/two_factor_setup.html",
        form=form,
        qr_svg=two_factor.qr_code_svg(uri, _("QR code for your authenticator app")),
        secret=two_factor.grouped(secret),
        required=two_factor.is_required(user, _required_setting()),
    )
    return page, 400 if form.errors or form.form_errors else 200, {"Cache-Control": "no-store"}


@bp.post("/account/two-factor/recovery-codes")
@login_required
def new_recovery_codes():  # type: ignore[no-untyped-def]
    form = TwoFactorChangeForm()
    db = get_session()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            codes = two_factor.regenerate_recovery_codes(
                db, user, form.password.data or "", form.code.data or ""
            )
        except DomainError as error:
            db.rollback()
            flash(str(error.message), "error")
        else:
            db.commit()
            flash(_("New recovery codes are made; the old ones no longer work."), "success")
            return _recovery_codes_page(codes)
    else:
        flash(_("Enter your password and a code from the app."), "error")
    return redirect(url_for("accounts.security"))


@bp.post("/account/two-factor/disable")
@login_required
def two_factor_disable():  # type: ignore[no-untyped-def]
    form = TwoFactorChangeForm()
    db = get_session()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            two_factor.disable(
                db, user, form.password.data or "", form.code.data or "", _required_setting()
            )
        except DomainError as error:
            db.rollback()
            flash(str(error.message), "error")
        else:
            db.commit()
            _keep_this_session()
            flash(_("Two-step log-in is off. Other sessions have been logged out."), "success")
    else:
        flash(_("Enter your password and a code from the app."), "error")
    return redirect(url_for("accounts.security"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():  # type: ignore[no-untyped-def]
    db = get_session()
    services.end_other_sessions(db, current_user._get_current_object())
    db.commit()
    _keep_this_session()
    flash(_("You are logged out on every other device and browser."), "success")
    return redirect(url_for("accounts.security"))


@bp.post("/account/confirm")
@login_required
def confirm():  # type: ignore[no-untyped-def]
    """The password confirmation asked for before opening a sensitive page."""
    target = safe_next_url(request.args.get("next"), url_for("main.home"))
    error = confirm_identity(request.form.get(PASSWORD_FIELD, ""), request.form.get(CODE_FIELD, ""))
    if error is None:
        return redirect(target)
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    return _confirmation_page(error, action=url_for("accounts.confirm", next=target))

"""Recent log-in: approving, paying and changing budgets ask for the password again when the
log-in is older than RECENT_LOGIN_MINUTES (or came from a "keep me logged in" cookie).

A stale POST is not thrown away: the confirmation page carries the submitted fields and sends
them, with the password (and code), to the same address, so one click finishes the action.
"""

from __future__ import annotations

import time
from functools import wraps
from typing import Any

from flask import current_app, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from marketplace.accounts import services, two_factor
from marketplace.db import get_session

AUTH_AT = "auth_at"
PASSWORD_FIELD = "reauth_password"  # noqa: S105 (a form field name)
CODE_FIELD = "reauth_code"
_NOT_CARRIED = {"csrf_token", PASSWORD_FIELD, CODE_FIELD}


def mark_recent() -> None:
    """The person has just proved who they are (log-in, or confirmation)."""
    session[AUTH_AT] = int(time.time())


def login_is_recent() -> bool:
    at = session.get(AUTH_AT)
    if not isinstance(at, int):
        return False
    return time.time() - at < current_app.config["RECENT_LOGIN_MINUTES"] * 60


def confirm_identity(password: str, code: str) -> str | None:
    """Check the password (and the second factor when the user has one).

    Returns None when both are right, else the message to show. Failures count towards the
    account lock like failed log-ins; when the lock falls, the session ends.
    """
    db = get_session()
    user = current_user._get_current_object()
    ok = services.check_password(user, password)
    if ok and user.has_two_factor:
        ok = two_factor.verify(db, user, code) is not None
    if ok:
        db.commit()
        mark_recent()
        services.login_log.info("identity confirmed user_id=%s", user.id)
        return None
    attempt = services.count_failed_login(db, user)
    db.commit()
    services.login_log.info("identity confirmation failed user_id=%s", user.id)
    if attempt.locked_until is not None:
        logout_user()
        session.clear()
        return _("Too many wrong attempts. You have been logged out; log in again later.")
    if user.has_two_factor:
        return _("The password or the code is not correct.")
    return _("The password is not correct.")


def confirmation_page(error: str | None = None, *, action: str | None = None) -> Any:
    """The page that asks for the password, carrying what the person submitted."""
    carried = [
        (name, value)
        for name, values in request.form.lists()
        if name not in _NOT_CARRIED
        for value in values
    ]
    lost_files = [f.filename for f in request.files.values() if f and f.filename]
    if action is None:
        action = (
            request.full_path.rstrip("?")
            if request.method == "POST"
            else url_for("accounts.confirm", next=request.full_path.rstrip("?"))
        )
    page = render_template(
        "accounts/confirm.html",
        action=action,
        carried=carried,
        lost_files=lost_files,
        error=error,
        needs_code=current_user.has_two_factor,
        minutes=current_app.config["RECENT_LOGIN_MINUTES"],
    )
    return page, 401, {"Cache-Control": "no-store"}


def recent_login_required(view: Any = None, *, on_get: bool = False) -> Any:
    """Run the view only if the log-in is recent, or the request itself confirms it.

    Only submissions are guarded, unless `on_get`: then opening the page asks first too (for
    forms with files, which a confirmation page cannot carry over).
    """

    def decorate(view: Any) -> Any:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            guarded = request.method not in ("GET", "HEAD") or on_get
            if not guarded or not current_user.is_authenticated or login_is_recent():
                return view(*args, **kwargs)
            if request.method == "POST" and PASSWORD_FIELD in request.form:
                error = confirm_identity(
                    request.form.get(PASSWORD_FIELD, ""), request.form.get(CODE_FIELD, "")
                )
                if error is None:
                    return view(*args, **kwargs)
                if not current_user.is_authenticated:
                    return current_app.login_manager.unauthorized()
                return confirmation_page(error)
            return confirmation_page()

        return wrapped

    return decorate(view) if view is not None else decorate

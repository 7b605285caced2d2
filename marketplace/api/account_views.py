"""A person's API tokens: the list, creating one (its secret shown once), revoking one."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from catalog.db import utcnow
from marketplace.accounts.recent import recent_login_required
from marketplace.api import tokens
from marketplace.api.forms import NewTokenForm
from marketplace.db import get_session
from marketplace.errors import DomainError
from marketplace.web import show_error

bp = Blueprint("api_tokens", __name__, url_prefix="/account/api-tokens")


def _page(form: NewTokenForm, *, secret: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    now = utcnow()
    response = render_template(
        "api/tokens.html",
        form=form,
        tokens=tokens.tokens_of(get_session(), current_user),
        scopes=tokens.SCOPES,
        is_live=lambda token: tokens.is_live(token, now),
        secret=secret,
    )
    # The page may show a secret: no cache anywhere may keep it.
    return response, status, {"Cache-Control": "no-store"}


@bp.get("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    return _page(NewTokenForm(formdata=None))


@bp.post("/")
@login_required
@recent_login_required
def create():  # type: ignore[no-untyped-def]
    form = NewTokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    days = int(form.expires_in.data or 0)
    db = get_session()
    try:
        _token, secret = tokens.create_token(
            db,
            current_user,
            form.name.data or "",
            list(form.scopes.data or []),
            expires_at=utcnow() + timedelta(days=days) if days else None,
        )
    except DomainError as error:
        db.rollback()
        show_error(form, error)
        return _page(form, status=400)
    db.commit()
    flash(_("The token is created. Copy it now: it is not shown again."), "success")
    return _page(NewTokenForm(formdata=None), secret=secret)


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int):  # type: ignore[no-untyped-def]
    db = get_session()
    token = tokens.revoke_token(db, current_user, token_id)
    db.commit()
    flash(_("The token “%(name)s” is revoked; it no longer works.", name=token.name), "success")
    return redirect(url_for("api_tokens.index"))

"""Helpers shared by the blueprints: permission guards and showing domain errors on forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import abort, current_app
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from marketplace.errors import DomainError
from marketplace.ordering.services import JAKARTA, OrderRules
from marketplace.permissions import has_any_permission

F = TypeVar("F", bound=Callable[..., Any])


def permission_required(*permissions: str) -> Callable[[F], F]:
    """Log-in required, and one of `permissions` held somewhere, else 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not any(has_any_permission(current_user, p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def show_error(form: FlaskForm, error: DomainError) -> None:
    """Attach a service's error to the form field it concerns, or to the form as a whole."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*list(field.errors), str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def order_rules() -> OrderRules:
    config = current_app.config
    return OrderRules(
        order_cap=config["ORDER_CAP"],
        second_approval_threshold=config["SECOND_APPROVAL_THRESHOLD"],
        split_purchase_threshold=config["SPLIT_PURCHASE_THRESHOLD"],
        acceptance_working_days=config["ACCEPTANCE_WORKING_DAYS"],
        receipt_due_days=config["RECEIPT_DUE_DAYS"],
        payment_due_days=config["PAYMENT_DUE_DAYS"],
    )


def today_in_jakarta() -> date:
    return datetime.now(JAKARTA).date()


def upload_dir(kind: str) -> Path:
    """Where uploads of a kind ("photos", "documents") are kept; shared between nodes."""
    return Path(current_app.config["UPLOAD_DIR"]) / kind

"""Two-factor log-in: time-based one-time codes (TOTP, RFC 6238) and one-time recovery codes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from catalog.db import utcnow
from marketplace.accounts.models import RecoveryCode, Role, User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.permissions import has_permission

#: codes shown when two-factor log-in is switched on; each works once
RECOVERY_CODE_COUNT = 10
#: a code from the step before or after the current one is accepted (clock drift)
VALID_WINDOW = 1
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def required_roles(setting: str) -> set[Role]:
    """The roles a deployment setting names ("approver,treasurer"); unknown names are errors."""
    roles = set()
    for name in (part.strip() for part in setting.split(",")):
        if name:
            roles.add(Role(name))
    return roles


def is_required(user: User, setting: str) -> bool:
    """Whether this user must log in with a second factor, by the roles they hold."""
    return bool(user.all_roles & required_roles(setting))


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_code_svg(uri: str, title: str) -> str:
    """An inline SVG QR code of the address (no network, no image file)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, title=title)


def grouped(secret: str) -> str:
    """The secret as people type it into an app by hand: "ABCD EFGH ..."."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalise_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code this is (within the drift window), or None."""
    digits = _normalise_code(code)
    if not (digits.isdigit() and len(digits) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def _recovery_hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{_normalise_code(code)}".encode()).hexdigest()


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user.id, code)))
    session.flush()
    return codes


def recovery_codes_left(session: Session, user: User) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def _check_password(user: User, password: str) -> None:
    if not check_password_hash(user.password_hash, password):
        raise DomainError(_l("The password is not correct."), field="password")


def enable(session: Session, user: User, secret: str, code: str, password: str) -> list[str]:
    """Switch two-factor log-in on once the person proves their app shows the right codes.

    Returns the recovery codes, to be shown once.
    """
    if user.has_two_factor:
        raise Conflict(_l("Two-step log-in is already on."))
    _check_password(user, password)
    step = _matching_step(secret, code, time.time())
    if step is None:
        raise DomainError(
            _l("That code does not match. Check the time on your phone and try the next code."),
            field="code",
        )
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    codes = _new_recovery_codes(session, user)
    record_event(session, user, "user.two_factor_on", "user", user.id)
    return codes


def verify(session: Session, user: User, code: str, *, now: float | None = None) -> str | None:
    """Check a second factor: a current TOTP code (once) or an unused recovery code.

    Returns "totp" or "recovery" when it is good, None when it is not.
    """
    if user.totp_secret is None:
        return None
    step = _matching_step(user.totp_secret, code, time.time() if now is None else now)
    if step is not None:
        # Guarded so that two requests racing with one code cannot both pass.
        moved = session.execute(
            update(User)
            .where(User.id == user.id)
            .where((User.totp_last_step.is_(None)) | (User.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            return None
        session.refresh(user, ["totp_last_step"])
        return "totp"
    used = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_hash(user.id, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount == 1:
        record_event(session, user, "user.recovery_code_used", "user", user.id)
        return "recovery"
    return None


def regenerate_recovery_codes(session: Session, user: User, password: str, code: str) -> list[str]:
    _check_password(user, password)
    if verify(session, user, code) is None:
        raise DomainError(_l("The code is not correct."), field="code")
    codes = _new_recovery_codes(session, user)
    record_event(session, user, "user.recovery_codes_new", "user", user.id)
    return codes


def _switch_off(session: Session, user: User) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_version += 1  # sessions made with the old factor end
    session.flush()


def disable(session: Session, user: User, password: str, code: str, required_setting: str) -> None:
    if not user.has_two_factor:
        raise Conflict(_l("Two-step log-in is already off."))
    if is_required(user, required_setting):
        raise PermissionDenied(_l("Your role requires two-step log-in; it cannot be switched off."))
    _check_password(user, password)
    if verify(session, user, code) is None:
        raise DomainError(_l("The code is not correct."), field="code")
    _switch_off(session, user)
    record_event(session, user, "user.two_factor_off", "user", user.id)


def reset(session: Session, actor: User | None, user: User, reason: str) -> None:
    """Switch a person's second factor off after they lost it (a curator, or an operator).

    They set it up again at their next log-in when their role requires it.
    """
    if actor is not None and not has_permission(actor, "user:manage"):
        raise PermissionDenied(_l("Only a curator can reset two-step log-in."))
    if not reason.strip():
        raise DomainError(_l("Give the reason."), field="reason")
    if not user.has_two_factor:
        raise Conflict(_l("Two-step log-in is already off."))
    _switch_off(session, user)
    record_event(
        session, actor, "user.two_factor_reset", "user", user.id, after={"reason": reason.strip()}
    )

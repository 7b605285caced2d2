"""Account operations: vendor self-registration, agency users made by a curator, passwords."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from catalog import vendors
from catalog.db import utcnow
from catalog.models import BusinessScale, BusinessType, Vendor, VendorStatus
from catalog.services import ListingError
from marketplace.accounts.models import (
    AGENCY_ROLES,
    PROVINCE_ROLES,
    Agency,
    Membership,
    Role,
    User,
)
from marketplace.accounts.passwords import check_password_strength
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.permissions import has_permission
from marketplace.taxes.services import normalise_regional_tax_number

#: failed log-ins in a row after which the account locks, whatever the client's address
LOCKOUT_THRESHOLD = 5
#: the first lock; each further failure doubles it, up to LOCKOUT_MAX
LOCKOUT_BASE = timedelta(minutes=1)
LOCKOUT_MAX = timedelta(hours=1)

login_log = logging.getLogger("marketplace.accounts.login")

# A hash to compare against when the email is unknown, so that a wrong email and a wrong
# password take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password-at-all")


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise DomainError(_l("Enter a valid email address."), field="email") from None


def _ensure_email_free(session: Session, email: str) -> None:
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict(_l("An account with this email already exists."), field="email")


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def email_digest(email: str) -> str:
    """A stable pseudonym of an e-mail address for logs and rate-limit keys."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LoginAttempt:
    """What became of one log-in attempt; `outcome` is what the log records."""

    user: User | None
    #: "success", "password_ok" (a second factor is still due), "bad_credentials",
    #: "inactive", "locked" (refused unchecked)
    outcome: str
    locked_until: datetime | None = None


def lockout_period(failed_logins: int) -> timedelta:
    """1, 2, 4, ... minutes from the LOCKOUT_THRESHOLD-th failure on, never over LOCKOUT_MAX."""
    doublings = max(failed_logins - LOCKOUT_THRESHOLD, 0)
    if doublings >= 10:  # far beyond the cap; avoids huge powers
        return LOCKOUT_MAX
    return min(LOCKOUT_BASE * 2**doublings, LOCKOUT_MAX)


def attempt_login(
    session: Session,
    email: str,
    password: str,
    *,
    ip: str = "",
    now: datetime | None = None,
) -> LoginAttempt:
    """Check the password unless the account is locked; count failures, lock with backoff.

    The same answer comes for an unknown e-mail and a wrong password, and in the same time.
    """
    now = now or utcnow()
    user = find_user_by_email(session, email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        attempt = LoginAttempt(None, "bad_credentials")
    elif user.locked_until is not None and user.locked_until > now:
        check_password_hash(_DUMMY_HASH, password)
        attempt = LoginAttempt(None, "locked", user.locked_until)
    elif not check_password_hash(user.password_hash, password):
        attempt = _count_failure(session, user, now)
    elif not user.is_active:
        attempt = LoginAttempt(None, "inactive")
    elif user.has_two_factor:
        # The password was right, but failures keep counting until the second factor is too:
        # knowing the password must not reset the lock that guards the codes.
        attempt = LoginAttempt(user, "password_ok")
    else:
        complete_login(session, user, now)
        attempt = LoginAttempt(user, "success")
    login_log.info(
        "login attempt email=%s ip=%s outcome=%s", email_digest(email), ip or "-", attempt.outcome
    )
    return attempt


def complete_login(session: Session, user: User, now: datetime | None = None) -> None:
    """Every factor was right: the failure count and any lock are cleared."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now or utcnow()
    session.flush()


def count_failed_login(session: Session, user: User, now: datetime | None = None) -> LoginAttempt:
    """A wrong password or second factor of a known user: counted, locking with backoff."""
    return _count_failure(session, user, now or utcnow())


def _count_failure(session: Session, user: User, now: datetime) -> LoginAttempt:
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < LOCKOUT_THRESHOLD:
        session.flush()
        return LoginAttempt(None, "bad_credentials")
    user.locked_until = now + lockout_period(user.failed_logins)
    session.flush()
    record_event(
        session,
        None,
        "user.lockout",
        "user",
        user.id,
        after={"failed_logins": user.failed_logins, "locked_until": user.locked_until.isoformat()},
    )
    login_log.warning(
        "account locked user_id=%s failed_logins=%s until=%s",
        user.id,
        user.failed_logins,
        user.locked_until.isoformat(),
    )
    # this attempt was answered like any wrong password; the next ones find the lock
    return LoginAttempt(None, "bad_credentials", user.locked_until)


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer for both faults).

    A user with two-factor log-in is never authenticated by a password alone.
    """
    attempt = attempt_login(session, email, password)
    return attempt.user if attempt.outcome == "success" else None


@dataclass(frozen=True)
class VendorRegistration:
    email: str
    password: str
    name: str
    legal_name: str
    trading_name: str
    business_type: BusinessType
    scale: BusinessScale
    district: str
    city: str
    phone: str
    nib: str = ""
    npwp: str = ""
    regional_tax_number: str = ""
    service_districts: str = ""
    jakpreneur_number: str = ""
    bank_name: str = ""
    bank_account_number: str = ""
    bank_account_holder: str = ""
    contact_person: str = ""


def register_vendor(session: Session, data: VendorRegistration) -> User:
    """A small business signs itself up; the curator verifies it before it can sell."""
    email = normalise_email(data.email)
    check_password_strength(data.password, email=email, name=data.name)
    _ensure_email_free(session, email)
    required = (
        "name",
        "legal_name",
        "trading_name",
        "district",
        "city",
        "phone",
        "bank_name",
        "bank_account_holder",
        "contact_person",
    )
    for field in required:
        if not getattr(data, field).strip():
            raise DomainError(_l("This field is required."), field=field)
    try:
        nib = vendors.normalise_nib(data.nib)
        npwp = vendors.normalise_npwp(data.npwp)
        account = vendors.normalise_bank_account(data.bank_account_number)
        districts = vendors.parse_districts(data.service_districts, data.district)
    except ListingError as error:
        raise DomainError(error.message, field=error.field) from None
    regional_tax_number = normalise_regional_tax_number(data.regional_tax_number)
    if session.scalar(select(Vendor.id).where(Vendor.nib == nib)) is not None:
        raise Conflict(_l("A business with this NIB is already registered."), field="nib")
    vendor = Vendor(
        nib=nib,
        npwp=npwp,
        regional_tax_number=regional_tax_number,
        service_districts=districts,
        jakpreneur_number=data.jakpreneur_number.strip() or None,
        bank_name=data.bank_name.strip(),
        bank_account_number=account,
        bank_account_holder=data.bank_account_holder.strip(),
        contact_person=data.contact_person.strip(),
        legal_name=data.legal_name.strip(),
        trading_name=data.trading_name.strip(),
        business_type=data.business_type,
        scale=data.scale,
        district=data.district.strip(),
        city=data.city.strip(),
        phone=data.phone.strip(),
        status=VendorStatus.PENDING,
    )
    user = User(
        email=email,
        name=data.name.strip(),
        password_hash=generate_password_hash(data.password),
    )
    session.add_all([vendor, user])
    session.flush()
    session.add(Membership(user=user, role=Role.VENDOR_OWNER, vendor_id=vendor.id))
    session.flush()
    record_event(
        session,
        user,
        "vendor.register",
        "vendor",
        vendor.id,
        after={"trading_name": vendor.trading_name, "status": vendor.status.value},
        vendor_id=vendor.id,
    )
    return user


@dataclass(frozen=True)
class NewStaffUser:
    email: str
    name: str
    position: str
    password: str
    roles: tuple[Role, ...]
    agency_id: int | None


def create_staff_user(session: Session, curator: User, data: NewStaffUser) -> User:
    """A curator creates a government user with agency or province-wide roles."""
    if not has_permission(curator, "user:manage"):
        raise PermissionDenied(_l("Only a curator can create users."))
    email = normalise_email(data.email)
    check_password_strength(data.password, email=email, name=data.name)
    _ensure_email_free(session, email)
    if not data.name.strip():
        raise DomainError(_l("This field is required."), field="name")
    if not data.roles:
        raise DomainError(_l("Choose at least one role."), field="roles")
    agency = session.get(Agency, data.agency_id) if data.agency_id else None
    if any(role in AGENCY_ROLES for role in data.roles) and agency is None:
        raise DomainError(_l("Choose the agency for the agency roles."), field="agency_id")
    if any(role not in AGENCY_ROLES | PROVINCE_ROLES for role in data.roles):
        raise DomainError(_l("Vendor roles are given by vendor registration."), field="roles")
    user = User(
        email=email,
        name=data.name.strip(),
        position=data.position.strip(),
        password_hash=generate_password_hash(data.password),
    )
    session.add(user)
    session.flush()
    for role in data.roles:
        session.add(
            Membership(
                user=user,
                role=role,
                agency_id=agency.id if role in AGENCY_ROLES and agency else None,
            )
        )
    session.flush()
    record_event(
        session,
        curator,
        "user.create",
        "user",
        user.id,
        after={"email": email, "roles": [r.value for r in data.roles], "agency_id": data.agency_id},
        agency_id=data.agency_id,
    )
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current):
        raise DomainError(_l("The current password is not correct."), field="current_password")
    check_password_strength(new, email=user.email, name=user.name, field="new_password")
    if current == new:
        raise DomainError(
            _l("Choose a password different from the current one."), field="new_password"
        )
    user.password_hash = generate_password_hash(new)
    user.session_version += 1  # ends every other session of this user
    session.flush()
    record_event(session, user, "user.change_password", "user", user.id)


def end_all_sessions(session: Session, user: User) -> None:
    """Log the user out of every browser: their sessions carry the old version."""
    user.session_version += 1
    session.flush()
    record_event(session, user, "user.logout", "user", user.id)


def end_other_sessions(session: Session, user: User) -> None:
    """Log the user out of every other browser and device ("keep me logged in" included)."""
    user.session_version += 1
    session.flush()
    record_event(session, user, "user.end_other_sessions", "user", user.id)


def verify_vendor(session: Session, curator: User, vendor: Vendor) -> Vendor:
    if not has_permission(curator, "vendor:verify"):
        raise PermissionDenied(_l("Only a curator can verify vendors."))
    if vendor.status is VendorStatus.VERIFIED:
        raise Conflict(_l("This vendor is already verified."))
    before = {"status": vendor.status.value}
    vendor.status = VendorStatus.VERIFIED
    vendor.verified_at = utcnow()
    session.flush()
    record_event(
        session,
        curator,
        "vendor.verify",
        "vendor",
        vendor.id,
        before=before,
        after={"status": vendor.status.value},
        vendor_id=vendor.id,
    )
    return vendor


@cache
def _user_query(count_unread: bool) -> Select[Any]:
    """The signed-in person by :user_id, built once: every signed-in request runs it.

    The user and the memberships that say what they may do (each with its agency or
    vendor) in one statement rather than three; with `count_unread`, their unread
    notifications too (the page header shows the count)."""
    from marketplace.notifications.models import Notification

    query = (
        select(User).where(User.id == bindparam("user_id")).options(joinedload(User.memberships))
    )
    if count_unread:
        unread = (
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == User.id, Notification.read_at.is_(None))
            .scalar_subquery()
        )
        query = query.add_columns(unread)
    return query


def load_user(session: Session, user_key: str, *, count_unread: bool = False) -> User | None:
    """Flask-Login's loader: the key carries the session version, so old sessions end.

    With `count_unread`, the number of the user's unread notifications is read in the same
    statement and left on the user as `unread_notifications_at_load` (the page header shows
    it on every page).
    """
    try:
        user_id, version = (int(part) for part in user_key.split(":"))
    except ValueError:
        return None
    row = session.execute(_user_query(count_unread), {"user_id": user_id}).unique().one_or_none()
    if row is None:
        return None
    user = row[0]
    if user.session_version != version or not user.is_active:
        return None
    if count_unread:
        user.unread_notifications_at_load = row[1]
    return user

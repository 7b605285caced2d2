"""Users, agencies (government units) and memberships that give a user a role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.db import Base, Money, UTCDateTime, utcnow
from catalog.models import Vendor, enum_column


class Role(StrEnum):
    VENDOR_OWNER = "vendor_owner"
    VENDOR_STAFF = "vendor_staff"
    REQUESTER = "requester"
    APPROVER = "approver"
    BUDGET_HOLDER = "budget_holder"
    TREASURER = "treasurer"
    FINANCE = "finance"
    CURATOR = "curator"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])

    @property
    def scope(self) -> str:
        """Where the role applies: a vendor, an agency, or the whole province."""
        if self in VENDOR_ROLES:
            return "vendor"
        if self in AGENCY_ROLES:
            return "agency"
        return "province"


ROLE_LABELS = {
    Role.VENDOR_OWNER: _l("Vendor owner"),
    Role.VENDOR_STAFF: _l("Vendor staff"),
    Role.REQUESTER: _l("Requester (Pejabat Pengadaan)"),
    Role.APPROVER: _l("Approver (PPK)"),
    Role.BUDGET_HOLDER: _l("Budget holder (PA/KPA)"),
    Role.TREASURER: _l("Treasurer (Bendahara)"),
    Role.FINANCE: _l("Finance"),
    Role.CURATOR: _l("Curator"),
    Role.AUDITOR: _l("Auditor"),
}
VENDOR_ROLES = frozenset({Role.VENDOR_OWNER, Role.VENDOR_STAFF})
AGENCY_ROLES = frozenset({Role.REQUESTER, Role.APPROVER, Role.BUDGET_HOLDER, Role.TREASURER})
PROVINCE_ROLES = frozenset({Role.FINANCE, Role.CURATOR, Role.AUDITOR})


def _in(roles: frozenset[Role]) -> str:
    return ", ".join(f"'{r.value}'" for r in sorted(roles))


class Agency(Base):
    """A government unit (SKPD/OPD) that orders food and drink against its budget."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    #: rupiah above which the budget holder approves too; None means the province default
    second_approval_threshold: Mapped[int | None] = mapped_column(Money)
    #: rupiah; orders to one vendor for one day adding up beyond it are flagged as a
    #: possible split purchase; None means the province default
    split_purchase_threshold: Mapped[int | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(5), default="id")
    active: Mapped[bool] = mapped_column(default=True)
    #: bumped on password change so that every other session of the user ends
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    #: failed log-ins since the last successful one; from the fifth on, the account locks
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    #: log-ins are refused until then, whatever the password (backoff after failures)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the shared TOTP secret (base32) once two-factor log-in is switched on; None when off
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the 30-second time step of the last code accepted: a code works once
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    # Roles
    def roles_in_agency(self, agency_id: int) -> set[Role]:
        return {m.role for m in self.memberships if m.agency_id == agency_id}

    def roles_in_vendor(self, vendor_id: int) -> set[Role]:
        return {m.role for m in self.memberships if m.vendor_id == vendor_id}

    def province_roles(self) -> set[Role]:
        return {m.role for m in self.memberships if m.role in PROVINCE_ROLES}

    @property
    def all_roles(self) -> set[Role]:
        return {m.role for m in self.memberships}

    @property
    def agency_ids(self) -> set[int]:
        return {m.agency_id for m in self.memberships if m.agency_id is not None}

    @property
    def vendor_ids(self) -> set[int]:
        return {m.vendor_id for m in self.memberships if m.vendor_id is not None}


class Membership(Base):
    """One role held by one user, in one agency, one vendor, or province-wide."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "agency_id", "vendor_id", name="uq_memberships_role"),
        CheckConstraint(
            f"(role IN ({_in(VENDOR_ROLES)}) AND vendor_id IS NOT NULL AND agency_id IS NULL)"
            f" OR (role IN ({_in(AGENCY_ROLES)}) AND agency_id IS NOT NULL AND vendor_id IS NULL)"
            f" OR (role IN ({_in(PROVINCE_ROLES)}) AND agency_id IS NULL AND vendor_id IS NULL)",
            name="scope_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendors.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    agency: Mapped[Agency | None] = relationship(lazy="joined")
    vendor: Mapped[Vendor | None] = relationship(lazy="joined")


class AgencyAddress(Base):
    """A delivery address an agency uses again and again (its hall, a meeting room)."""

    __tablename__ = "agency_addresses"
    __table_args__ = (UniqueConstraint("agency_id", "label", name="uq_agency_addresses_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(500))
    district: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RecoveryCode(Base):
    """A one-time code that logs in instead of the authenticator app (a lost phone).

    Only a hash is kept; the codes are shown once, when two-factor log-in is switched on.
    """

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

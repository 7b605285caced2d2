"""Taxes from the rule table: the breakdown of a sale, vendors' tax numbers, curators' edits.

The arithmetic lives in `calculation` (pure, re-exported here); this module adds the
database: which rules are in force on a day, and the curator's audited changes to the table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog.models import BusinessType
from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.permissions import has_permission
from marketplace.taxes.calculation import (
    WHOLE_BP,
    TaxBreakdown,
    TaxedVendor,
    TaxLine,
    VendorTaxProfile,
    compute_with_rules,
    divide,
    format_rate,
    rule_applies_to,
)
from marketplace.taxes.models import Rounding, TaxKind, TaxRule

__all__ = [
    "REGIONAL_TAX_NUMBER_PATTERN",
    "WHOLE_BP",
    "TaxBreakdown",
    "TaxLine",
    "TaxRuleData",
    "TaxedVendor",
    "VendorTaxProfile",
    "compute_taxes",
    "compute_with_rules",
    "create_rule",
    "divide",
    "end_rule",
    "format_rate",
    "normalise_regional_tax_number",
    "rule_applies_to",
    "rules_by_code",
    "rules_in_force",
    "update_rule",
]


def rules_in_force(session: Session, day: date) -> list[TaxRule]:
    return list(
        session.scalars(
            select(TaxRule)
            .where(
                TaxRule.effective_from <= day,
                or_(TaxRule.effective_to.is_(None), TaxRule.effective_to > day),
            )
            .order_by(TaxRule.kind, TaxRule.code, TaxRule.effective_from, TaxRule.id)
        )
    )


def compute_taxes(session: Session, vendor: TaxedVendor, gross: int, day: date) -> TaxBreakdown:
    """The taxes on a sale of `gross` rupiah by `vendor`, by the rules in force on `day`."""
    return compute_with_rules(rules_in_force(session, day), vendor, gross, day)


# Vendors' tax numbers ------------------------------------------------------------------

#: what a regional tax number (NPWPD / NOPD) may look like, loosely: forms check it too
REGIONAL_TAX_NUMBER_PATTERN = r"^\s*[A-Za-z0-9][A-Za-z0-9./\- ]{0,39}\s*$"
_REGIONAL_TAX_NUMBER = re.compile(REGIONAL_TAX_NUMBER_PATTERN)


def normalise_regional_tax_number(raw: str | None) -> str | None:
    """A regional tax number (NPWPD / NOPD) as typed, tidied; None when left empty."""
    value = " ".join((raw or "").split()).upper()
    if not value:
        return None
    if len(value) > 40 or not _REGIONAL_TAX_NUMBER.fullmatch(value):
        raise DomainError(
            _l("Use letters, digits, dots and dashes, up to 40 characters."),
            field="regional_tax_number",
        )
    return value


# The curator's edits -------------------------------------------------------------------

_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,19}")


@dataclass(frozen=True)
class TaxRuleData:
    code: str
    name: str
    kind: TaxKind
    #: 1000 = 10%
    rate_bp: int
    #: the first day the rule is in force
    effective_from: date
    #: BusinessType values; empty = every type
    business_types: tuple[str, ...] = ()
    requires_regional_registration: bool = False
    vendor_has_npwp: bool | None = None
    #: rupiah; the rule applies only above it
    min_base_exclusive: int | None = None
    rounding: Rounding = Rounding.DOWN
    #: the last day the rule is in force; None = open-ended
    last_day: date | None = None
    legal_basis: str = ""


def _require_tax_manager(actor: User) -> None:
    if not has_permission(actor, "tax:manage"):
        raise PermissionDenied(_l("Only a curator can change the tax rules."))


def _snapshot(rule: TaxRule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name": rule.name,
        "kind": TaxKind(rule.kind).value,
        "rate_bp": rule.rate_bp,
        "business_types": list(rule.business_types or []),
        "requires_regional_registration": rule.requires_regional_registration,
        "vendor_has_npwp": rule.vendor_has_npwp,
        "min_base_exclusive": rule.min_base_exclusive,
        "rounding": Rounding(rule.rounding).value,
        "effective_from": rule.effective_from.isoformat(),
        "effective_to": rule.effective_to.isoformat() if rule.effective_to else None,
        "legal_basis": rule.legal_basis,
    }


def _checked(data: TaxRuleData) -> TaxRuleData:
    code = data.code.strip().upper()
    if not _CODE.fullmatch(code):
        raise DomainError(
            _l("Use 2 to 20 capital letters, digits or underscores, e.g. PPH23."), field="code"
        )
    name = data.name.strip()
    if not name or len(name) > 200:
        raise DomainError(_l("Give the tax a name of up to 200 characters."), field="name")
    if not 0 <= data.rate_bp <= WHOLE_BP:
        raise DomainError(_l("The rate must be between 0 and 100%."), field="rate")
    known = [t.value for t in BusinessType]
    if any(t not in known for t in data.business_types):
        raise DomainError(_l("Choose known business types."), field="business_types")
    if data.min_base_exclusive is not None and data.min_base_exclusive < 0:
        raise DomainError(_l("An amount cannot be negative."), field="min_base_exclusive")
    if data.last_day is not None and data.last_day < data.effective_from:
        raise DomainError(_l("The last day comes before the first day."), field="last_day")
    return TaxRuleData(
        code=code,
        name=name,
        kind=TaxKind(data.kind),
        rate_bp=data.rate_bp,
        business_types=tuple(t for t in known if t in data.business_types),
        requires_regional_registration=data.requires_regional_registration,
        vendor_has_npwp=data.vendor_has_npwp,
        min_base_exclusive=data.min_base_exclusive,
        rounding=Rounding(data.rounding),
        effective_from=data.effective_from,
        last_day=data.last_day,
        legal_basis=data.legal_basis.strip(),
    )


def _end_of(last_day: date | None) -> date | None:
    return None if last_day is None else last_day + timedelta(days=1)


@dataclass(frozen=True)
class _Reach:
    """The sales a rule could apply to: its code, conditions and period."""

    code: str
    business_types: frozenset[str]
    vendor_has_npwp: bool | None
    effective_from: date
    effective_to: date | None

    @classmethod
    def of(cls, rule: TaxRule | TaxRuleData, effective_to: date | None) -> _Reach:
        return cls(
            code=rule.code,
            business_types=frozenset(rule.business_types or {t.value for t in BusinessType}),
            vendor_has_npwp=rule.vendor_has_npwp,
            effective_from=rule.effective_from,
            effective_to=effective_to,
        )

    def meets(self, other: _Reach) -> bool:
        """Whether one sale could fall under both: same code, shared days, a shared vendor."""
        shares_days = (other.effective_to is None or self.effective_from < other.effective_to) and (
            self.effective_to is None or other.effective_from < self.effective_to
        )
        # registration never separates two rules: a registered vendor meets a rule that does
        # not ask for it as well
        shares_vendors = bool(self.business_types & other.business_types) and (
            self.vendor_has_npwp is None
            or other.vendor_has_npwp is None
            or self.vendor_has_npwp == other.vendor_has_npwp
        )
        return self.code == other.code and shares_days and shares_vendors


def _refuse_overlap(
    session: Session, reach: _Reach, exclude_id: int | None, field_name: str
) -> None:
    """Two rules with one code must never apply to the same sale: refuse the second."""
    for other in session.scalars(select(TaxRule).where(TaxRule.code == reach.code)):
        if other.id != exclude_id and reach.meets(_Reach.of(other, other.effective_to)):
            raise Conflict(
                _l(
                    "Another %(code)s rule (“%(name)s”, from %(start)s) applies to the same "
                    "vendors in this period. End it first, or choose other dates or conditions.",
                    code=other.code,
                    name=other.name,
                    start=other.effective_from.isoformat(),
                ),
                field=field_name,
            )


def _apply(rule: TaxRule, data: TaxRuleData, actor: User | None) -> None:
    rule.code = data.code
    rule.name = data.name
    rule.kind = data.kind
    rule.rate_bp = data.rate_bp
    rule.business_types = list(data.business_types)
    rule.requires_regional_registration = data.requires_regional_registration
    rule.vendor_has_npwp = data.vendor_has_npwp
    rule.min_base_exclusive = data.min_base_exclusive
    rule.rounding = data.rounding
    rule.effective_from = data.effective_from
    rule.effective_to = _end_of(data.last_day)
    rule.legal_basis = data.legal_basis
    rule.updated_by_id = actor.id if actor is not None else None


def _preview(data: TaxRuleData) -> TaxRule:
    """An unsaved rule carrying `data`, to compare terms."""
    preview = TaxRule()
    _apply(preview, data, None)
    return preview


def create_rule(session: Session, actor: User, data: TaxRuleData) -> TaxRule:
    _require_tax_manager(actor)
    checked = _checked(data)
    _refuse_overlap(session, _Reach.of(checked, _end_of(checked.last_day)), None, "effective_from")
    rule = TaxRule()
    _apply(rule, checked, actor)
    session.add(rule)
    session.flush()
    record_event(session, actor, "tax_rule.create", "tax_rule", rule.id, after=_snapshot(rule))
    return rule


#: what decides the tax on a sale; fixed once the rule has applied to a day
_TERMS = (
    "code",
    "kind",
    "rate_bp",
    "business_types",
    "requires_regional_registration",
    "vendor_has_npwp",
    "min_base_exclusive",
    "rounding",
    "effective_from",
)


def _jakarta_today() -> date:
    return datetime.now(ZoneInfo("Asia/Jakarta")).date()


def update_rule(
    session: Session, actor: User, rule: TaxRule, data: TaxRuleData, *, today: date | None = None
) -> TaxRule:
    """Change a rule. Once it has applied (from its first day on), only its name, legal
    basis and a last day from today on can change: invoices were computed with its terms,
    and a correction must come out the same. A new rate is a new rule from a new day."""
    _require_tax_manager(actor)
    checked = _checked(data)
    today = today or _jakarta_today()
    if rule.effective_from <= today:
        before, after = _snapshot(rule), _snapshot(_preview(checked))
        if any(before[term] != after[term] for term in _TERMS):
            raise DomainError(
                _l(
                    "This rule has already applied to sales, so its terms cannot change. End it"
                    " and add a new rule from the day the change takes effect."
                ),
                field="rate",
            )
        end = _end_of(checked.last_day)
        if end != rule.effective_to and end is not None and end <= today:
            raise DomainError(
                _l("A rule that has applied can only end from today on."), field="last_day"
            )
    reach = _Reach.of(checked, _end_of(checked.last_day))
    _refuse_overlap(session, reach, rule.id, "effective_from")
    before = _snapshot(rule)
    _apply(rule, checked, actor)
    session.flush()
    record_event(
        session, actor, "tax_rule.update", "tax_rule", rule.id, before=before, after=_snapshot(rule)
    )
    return rule


def end_rule(session: Session, actor: User, rule: TaxRule, last_day: date) -> TaxRule:
    """The rule stops applying after `last_day` (a new rule may take over the next day)."""
    _require_tax_manager(actor)
    if last_day < rule.effective_from:
        raise DomainError(_l("The last day comes before the first day."), field="last_day")
    _refuse_overlap(session, _Reach.of(rule, _end_of(last_day)), rule.id, "last_day")
    before = _snapshot(rule)
    rule.effective_to = _end_of(last_day)
    rule.updated_by_id = actor.id
    session.flush()
    record_event(
        session, actor, "tax_rule.end", "tax_rule", rule.id, before=before, after=_snapshot(rule)
    )
    return rule


def rules_by_code(session: Session) -> list[tuple[str, Sequence[TaxRule]]]:
    """Every rule, current and past, grouped by code; the newest first within a code."""
    grouped: dict[str, list[TaxRule]] = {}
    for rule in session.scalars(
        select(TaxRule).order_by(TaxRule.code, TaxRule.effective_from.desc(), TaxRule.id)
    ):
        grouped.setdefault(rule.code, []).append(rule)
    return list(grouped.items())

"""The pure arithmetic of taxes on one sale: no session, no request, integer rupiah only.

Catalogue prices include the taxes the vendor charges (PBJT), so the received total of an
order is the gross the budget spends. The tax base (DPP) is the gross without charged taxes;
income tax the treasurer withholds (PPh 22, PPh 23) is computed on that base and lowers what
the vendor is paid. Every division is rounded explicitly, as each rule says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from flask_babel import lazy_gettext as _l

from catalog.models import BusinessType
from marketplace.errors import Conflict, DomainError
from marketplace.taxes.models import Rounding, TaxKind, TaxRule

#: basis points in one whole (100%)
WHOLE_BP = 10_000


class TaxedVendor(Protocol):
    """What the rules look at in a vendor: a `catalog.models.Vendor` or a `VendorTaxProfile`."""

    @property
    def business_type(self) -> BusinessType: ...
    @property
    def npwp(self) -> str | None: ...
    @property
    def regional_tax_number(self) -> str | None: ...


@dataclass(frozen=True)
class VendorTaxProfile:
    """A vendor described only by what taxes depend on (for the curator's calculator)."""

    business_type: BusinessType
    npwp: str | None = None
    regional_tax_number: str | None = None


@dataclass(frozen=True)
class TaxLine:
    code: str
    name: str
    kind: TaxKind
    rate_bp: int
    #: rupiah the rate was applied to
    base: int
    #: rupiah
    amount: int
    legal_basis: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind.value,
            "rate_bp": self.rate_bp,
            "base": self.base,
            "amount": self.amount,
            "legal_basis": self.legal_basis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaxLine:
        return cls(
            code=str(data["code"]),
            name=str(data["name"]),
            kind=TaxKind(data["kind"]),
            rate_bp=int(data["rate_bp"]),
            base=int(data["base"]),
            amount=int(data["amount"]),
            legal_basis=str(data["legal_basis"]),
        )


@dataclass(frozen=True)
class TaxBreakdown:
    """Gross = base + charged taxes; the vendor is paid gross - withheld taxes."""

    #: rupiah the buyer pays (taxes charged by the vendor included)
    gross: int
    #: rupiah; the tax base (DPP)
    base: int
    charged: tuple[TaxLine, ...] = field(default=())
    withheld: tuple[TaxLine, ...] = field(default=())

    @property
    def charged_total(self) -> int:
        return sum(line.amount for line in self.charged)

    @property
    def withheld_total(self) -> int:
        return sum(line.amount for line in self.withheld)

    @property
    def net_payable(self) -> int:
        """Rupiah the treasurer transfers to the vendor."""
        return self.gross - self.withheld_total

    def as_dict(self) -> dict[str, Any]:
        """Plain ints and strings, to freeze inside an issued invoice."""
        return {
            "gross": self.gross,
            "base": self.base,
            "charged": [line.as_dict() for line in self.charged],
            "withheld": [line.as_dict() for line in self.withheld],
            "charged_total": self.charged_total,
            "withheld_total": self.withheld_total,
            "net_payable": self.net_payable,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaxBreakdown:
        return cls(
            gross=int(data["gross"]),
            base=int(data["base"]),
            charged=tuple(TaxLine.from_dict(line) for line in data["charged"]),
            withheld=tuple(TaxLine.from_dict(line) for line in data["withheld"]),
        )


# Computing ---------------------------------------------------------------------------


def divide(numerator: int, denominator: int, rounding: Rounding) -> int:
    """numerator / denominator in whole rupiah (both non-negative), rounded as the rule says."""
    if Rounding(rounding) is Rounding.HALF_UP:
        return (2 * numerator + denominator) // (2 * denominator)
    return numerator // denominator


def _has_number(value: str | None) -> bool:
    return bool(value and value.strip())


def rule_applies_to(rule: TaxRule, vendor: TaxedVendor) -> bool:
    """The rule's conditions on the vendor (not its dates, not its threshold)."""
    business_type = BusinessType(vendor.business_type).value
    if rule.business_types and business_type not in rule.business_types:
        return False
    if rule.requires_regional_registration and not _has_number(vendor.regional_tax_number):
        return False
    return rule.vendor_has_npwp is None or rule.vendor_has_npwp == _has_number(vendor.npwp)


def _rule_order(rule: TaxRule) -> tuple[int, str, date, int]:
    charged_first = 0 if TaxKind(rule.kind) is TaxKind.CHARGED else 1
    return (charged_first, rule.code, rule.effective_from, rule.id or 0)


def _above(amount: int, rule: TaxRule) -> bool:
    return rule.min_base_exclusive is None or amount > rule.min_base_exclusive


def _line(rule: TaxRule, base: int, amount: int) -> TaxLine:
    return TaxLine(
        code=rule.code,
        name=rule.name,
        kind=TaxKind(rule.kind),
        rate_bp=rule.rate_bp,
        base=base,
        amount=amount,
        legal_basis=rule.legal_basis or "",
    )


def compute_with_rules(
    rules: Iterable[TaxRule], vendor: TaxedVendor, gross: int, day: date
) -> TaxBreakdown:
    """The taxes on a sale of `gross` rupiah by `vendor` on `day`, from the given rules."""
    if isinstance(gross, bool) or not isinstance(gross, int):
        raise TypeError("the gross is an int of rupiah")
    if gross < 0:
        raise DomainError(_l("An amount cannot be negative."), field="gross")
    matching = sorted(
        (r for r in rules if r.in_force_on(day) and rule_applies_to(r, vendor)), key=_rule_order
    )
    codes = [rule.code for rule in matching]
    for code in codes:
        if codes.count(code) > 1:
            raise Conflict(
                _l(
                    "More than one tax rule %(code)s applies to this sale. A curator must end "
                    "one of them before taxes can be computed.",
                    code=code,
                )
            )
    charged = [r for r in matching if TaxKind(r.kind) is TaxKind.CHARGED and _above(gross, r)]
    withheld = [r for r in matching if TaxKind(r.kind) is TaxKind.WITHHELD]
    base = gross
    charged_lines: list[TaxLine] = []
    if charged:
        total_rate = sum(rule.rate_bp for rule in charged)
        base = divide(gross * WHOLE_BP, WHOLE_BP + total_rate, charged[0].rounding)
        left = gross - base  # never negative: the base is at most the gross
        for position, rule in enumerate(charged):
            if position == len(charged) - 1:
                amount = left  # the last line absorbs rounding, so base + charged == gross
            else:  # capped, so that the last line can never go below zero
                amount = min(divide(base * rule.rate_bp, WHOLE_BP, rule.rounding), left)
            left -= amount
            charged_lines.append(_line(rule, base, amount))
    withheld_lines = tuple(
        _line(rule, base, divide(base * rule.rate_bp, WHOLE_BP, rule.rounding))
        for rule in withheld
        if _above(base, rule)
    )
    if sum(line.amount for line in withheld_lines) > base:
        raise Conflict(
            _l("The tax rules withhold more than the tax base. A curator must fix them.")
        )
    return TaxBreakdown(
        gross=gross, base=base, charged=tuple(charged_lines), withheld=withheld_lines
    )


def format_rate(rate_bp: int, decimal_symbol: str = ",") -> str:
    """Basis points as a percentage for people: 1000 -> "10%", 150 -> "1,5%"."""
    whole, hundredths = divmod(rate_bp, 100)
    if not hundredths:
        return f"{whole}%"
    return f"{whole}{decimal_symbol}{hundredths:02d}".rstrip("0") + "%"

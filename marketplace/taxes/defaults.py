"""The tax rules in force in Jakarta, as the 0010 migration seeds them, for empty databases."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.taxes.models import Rounding, TaxKind, TaxRule

#: the same rows as migration 0010 inserts; curators keep the table current from then on
DEFAULT_TAX_RULES: tuple[dict[str, Any], ...] = (
    {
        "code": "PBJT",
        "name": "PBJT makanan dan minuman",
        "kind": TaxKind.CHARGED,
        "rate_bp": 1000,
        "business_types": ["caterer", "restaurant"],
        "requires_regional_registration": True,
        "vendor_has_npwp": None,
        "min_base_exclusive": None,
        "rounding": Rounding.HALF_UP,
        "effective_from": date(2024, 1, 5),
        "legal_basis": "UU 1/2022 (HKPD) Pasal 58; Perda DKI Jakarta 1/2024",
    },
    {
        "code": "PPH23",
        "name": "PPh Pasal 23 jasa katering",
        "kind": TaxKind.WITHHELD,
        "rate_bp": 200,
        "business_types": ["caterer"],
        "requires_regional_registration": False,
        "vendor_has_npwp": True,
        "min_base_exclusive": None,
        "rounding": Rounding.DOWN,
        "effective_from": date(2009, 1, 1),
        "legal_basis": "UU 36/2008 Pasal 23 ayat (1) huruf c; PMK 141/2015",
    },
    {
        "code": "PPH23",
        "name": "PPh Pasal 23 jasa katering (tanpa NPWP)",
        "kind": TaxKind.WITHHELD,
        "rate_bp": 400,
        "business_types": ["caterer"],
        "requires_regional_registration": False,
        "vendor_has_npwp": False,
        "min_base_exclusive": None,
        "rounding": Rounding.DOWN,
        "effective_from": date(2009, 1, 1),
        "legal_basis": "UU 36/2008 Pasal 23 ayat (1a)",
    },
    {
        "code": "PPH22",
        "name": "PPh Pasal 22 pembelian barang",
        "kind": TaxKind.WITHHELD,
        "rate_bp": 150,
        "business_types": ["shop", "home_industry"],
        "requires_regional_registration": False,
        "vendor_has_npwp": True,
        "min_base_exclusive": 2_000_000,
        "rounding": Rounding.DOWN,
        "effective_from": date(2017, 3, 1),
        "legal_basis": "UU 36/2008 Pasal 22; PMK 34/2017 Pasal 2 dan 3",
    },
    {
        "code": "PPH22",
        "name": "PPh Pasal 22 pembelian barang (tanpa NPWP)",
        "kind": TaxKind.WITHHELD,
        "rate_bp": 300,
        "business_types": ["shop", "home_industry"],
        "requires_regional_registration": False,
        "vendor_has_npwp": False,
        "min_base_exclusive": 2_000_000,
        "rounding": Rounding.DOWN,
        "effective_from": date(2017, 3, 1),
        "legal_basis": "UU 36/2008 Pasal 22 ayat (3); PMK 34/2017",
    },
)


def install_default_tax_rules(session: Session) -> list[TaxRule]:
    """Add the default rules to an empty table (flushed); does nothing once any rule exists."""
    if session.scalar(select(func.count()).select_from(TaxRule)):
        return []
    rules = [
        TaxRule(**{**values, "business_types": list(values["business_types"])})
        for values in DEFAULT_TAX_RULES
    ]
    session.add_all(rules)
    session.flush()
    return rules

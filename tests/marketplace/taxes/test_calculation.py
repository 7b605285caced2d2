"""Each default tax rule with worked examples, rupiah rounding, effective dates and invariants.

The rules are the defaults the migration seeds (as transient objects: no database), so every
figure here can be checked by hand against the regulation.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.models import BusinessType
from marketplace.errors import Conflict, DomainError
from marketplace.taxes.defaults import DEFAULT_TAX_RULES
from marketplace.taxes.models import Rounding, TaxKind, TaxRule
from marketplace.taxes.services import (
    TaxBreakdown,
    VendorTaxProfile,
    compute_with_rules,
    divide,
    format_rate,
)

TODAY = date(2026, 6, 1)
NPWP = "012345678901234"
NPWPD = "P.2.0001234.05.001"


def default_rules() -> list[TaxRule]:
    return [
        TaxRule(**{**values, "business_types": list(values["business_types"])})
        for values in DEFAULT_TAX_RULES
    ]


def vendor(
    business_type: BusinessType = BusinessType.CATERER,
    *,
    npwp: bool = True,
    registered: bool = True,
) -> VendorTaxProfile:
    return VendorTaxProfile(
        business_type=business_type,
        npwp=NPWP if npwp else None,
        regional_tax_number=NPWPD if registered else None,
    )


def taxes(seller: VendorTaxProfile, gross: int, day: date = TODAY) -> TaxBreakdown:
    return compute_with_rules(default_rules(), seller, gross, day)


def amounts(lines) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {line.code: line.amount for line in lines}


# PBJT and PPh 23: caterers -----------------------------------------------------------


def test_registered_caterer_with_npwp_charges_pbjt_and_has_pph23_withheld():
    # DPP = 1.100.000 x 100/110 = 1.000.000; PBJT 10% = 100.000; PPh 23 2% = 20.000
    result = taxes(vendor(), 1_100_000)
    assert result.gross == 1_100_000
    assert result.base == 1_000_000
    assert amounts(result.charged) == {"PBJT": 100_000}
    assert amounts(result.withheld) == {"PPH23": 20_000}
    assert result.net_payable == 1_080_000
    [pph23] = result.withheld
    assert (pph23.rate_bp, pph23.base, pph23.kind) == (200, 1_000_000, TaxKind.WITHHELD)
    assert "Pasal 23" in pph23.legal_basis


def test_caterer_without_npwp_has_pph23_withheld_at_four_percent():
    # PPh 23 without NPWP: 4% of DPP 1.000.000 = 40.000
    result = taxes(vendor(npwp=False), 1_100_000)
    assert amounts(result.charged) == {"PBJT": 100_000}
    assert amounts(result.withheld) == {"PPH23": 40_000}
    assert result.withheld[0].rate_bp == 400
    assert result.net_payable == 1_060_000


def test_unregistered_caterer_charges_no_pbjt_and_pph23_is_on_the_whole_gross():
    # No PBJT: DPP = gross = 1.100.000; PPh 23 2% = 22.000
    result = taxes(vendor(registered=False), 1_100_000)
    assert result.charged == ()
    assert result.base == 1_100_000
    assert amounts(result.withheld) == {"PPH23": 22_000}
    assert result.net_payable == 1_078_000


def test_a_blank_npwp_or_npwpd_counts_as_none():
    seller = VendorTaxProfile(BusinessType.CATERER, npwp="  ", regional_tax_number="")
    result = taxes(seller, 1_100_000)
    assert result.charged == ()
    assert amounts(result.withheld) == {"PPH23": 44_000}  # 4% of 1.100.000


@pytest.mark.parametrize("has_npwp", [True, False])
def test_registered_restaurant_charges_pbjt_only(has_npwp):
    # A restaurant sells goods, not catering services: no PPh 23; PBJT as for caterers
    result = taxes(vendor(BusinessType.RESTAURANT, npwp=has_npwp), 1_100_000)
    assert amounts(result.charged) == {"PBJT": 100_000}
    assert result.withheld == ()
    assert result.net_payable == 1_100_000


def test_unregistered_restaurant_has_no_tax_at_all():
    result = taxes(vendor(BusinessType.RESTAURANT, registered=False), 1_100_000)
    assert (result.base, result.charged, result.withheld) == (1_100_000, (), ())
    assert result.net_payable == 1_100_000


# PPh 22: shops and home industries ---------------------------------------------------


@pytest.mark.parametrize("business_type", [BusinessType.SHOP, BusinessType.HOME_INDUSTRY])
def test_pph22_applies_only_above_two_million(business_type):
    at_threshold = taxes(vendor(business_type), 2_000_000)
    assert at_threshold.withheld == ()
    assert at_threshold.net_payable == 2_000_000
    # 1,5% of 2.000.001 = 30.000,015 -> down to 30.000
    above = taxes(vendor(business_type), 2_000_001)
    assert amounts(above.withheld) == {"PPH22": 30_000}
    assert above.net_payable == 1_970_001


def test_home_industry_without_npwp_has_pph22_withheld_at_three_percent():
    # 3% of 3.000.000 = 90.000
    result = taxes(vendor(BusinessType.HOME_INDUSTRY, npwp=False), 3_000_000)
    assert amounts(result.withheld) == {"PPH22": 90_000}
    assert result.withheld[0].rate_bp == 300
    assert result.net_payable == 2_910_000


def test_shop_never_charges_pbjt_even_with_a_regional_tax_number():
    result = taxes(vendor(BusinessType.SHOP, registered=True), 2_200_000)
    assert result.charged == ()
    assert result.base == 2_200_000
    assert amounts(result.withheld) == {"PPH22": 33_000}  # 1,5% of 2.200.000


def test_pph22_rounds_down():
    # 1,5% of 2.345.678 = 35.185,17 -> 35.185; 3% = 70.370,34 -> 70.370
    assert amounts(taxes(vendor(BusinessType.SHOP), 2_345_678).withheld) == {"PPH22": 35_185}
    no_npwp = taxes(vendor(BusinessType.SHOP, npwp=False), 2_345_678)
    assert amounts(no_npwp.withheld) == {"PPH22": 70_370}


# Rupiah rounding ---------------------------------------------------------------------


def test_rounding_half_up_for_the_base_and_down_for_withholding():
    # DPP = 1.234.567 x 100/110 = 1.122.333,636... -> half up: 1.122.334 (down would be .333)
    # PBJT = 1.234.567 - 1.122.334 = 112.233 (10% of the DPP is 112.233,4)
    # PPh 23 = 2% x 1.122.334 = 22.446,68 -> down: 22.446 (half up would be 22.447)
    # net = 1.234.567 - 22.446 = 1.212.121
    result = taxes(vendor(), 1_234_567)
    assert result.base == 1_122_334
    assert amounts(result.charged) == {"PBJT": 112_233}
    assert amounts(result.withheld) == {"PPH23": 22_446}
    assert result.net_payable == 1_212_121


def test_the_charged_tax_absorbs_rounding_so_that_base_and_tax_make_the_gross():
    # DPP = 1.100.005 / 1,1 = 1.000.004,545... -> 1.000.005. 10% of it is 100.000,5, which
    # rounds half up to 100.001, but 1.000.005 + 100.001 would be one rupiah more than paid:
    # the PBJT line is the remainder, 100.000.
    result = taxes(vendor(BusinessType.RESTAURANT), 1_100_005)
    assert result.base == 1_000_005
    assert amounts(result.charged) == {"PBJT": 100_000}
    assert result.base + result.charged_total == result.gross


def test_pph23_rounds_down_on_small_amounts():
    # 2% of 999 = 19,98 -> 19
    assert amounts(taxes(vendor(registered=False), 999).withheld) == {"PPH23": 19}


def test_one_rupiah_and_zero():
    # DPP = 1 / 1,1 = 0,909 -> 1; PBJT 0; PPh 23 2% of 1 = 0,02 -> 0
    one = taxes(vendor(), 1)
    assert (one.base, one.charged_total, one.withheld_total, one.net_payable) == (1, 0, 0, 1)
    zero = taxes(vendor(), 0)
    assert (zero.gross, zero.base, zero.charged_total, zero.withheld_total) == (0, 0, 0, 0)
    assert zero.net_payable == 0


@pytest.mark.parametrize(
    ("numerator", "denominator", "down", "half_up"),
    [(10, 4, 2, 3), (9, 4, 2, 2), (11, 4, 2, 3), (0, 7, 0, 0), (7, 7, 1, 1), (13, 2, 6, 7)],
)
def test_divide_rounds_as_told(numerator, denominator, down, half_up):
    assert divide(numerator, denominator, Rounding.DOWN) == down
    assert divide(numerator, denominator, Rounding.HALF_UP) == half_up


def test_a_float_gross_is_refused():
    with pytest.raises(TypeError):
        taxes(vendor(), 1_100_000.0)  # type: ignore[arg-type]


def test_a_negative_gross_is_refused():
    with pytest.raises(DomainError):
        taxes(vendor(), -1)


# Effective dates ---------------------------------------------------------------------


def pph23_at(rate_bp: int, start: date, end: date | None = None) -> TaxRule:
    return TaxRule(
        code="PPH23",
        name=f"PPh 23 {rate_bp}",
        kind=TaxKind.WITHHELD,
        rate_bp=rate_bp,
        business_types=["caterer"],
        requires_regional_registration=False,
        vendor_has_npwp=True,
        rounding=Rounding.DOWN,
        effective_from=start,
        effective_to=end,
        legal_basis="",
    )


def test_a_rule_ended_yesterday_does_not_apply_today():
    ended = pph23_at(200, date(2009, 1, 1), end=TODAY)  # effective_to: first day not in force
    seller = vendor(registered=False)
    assert compute_with_rules([ended], seller, 1_000_000, TODAY).withheld == ()
    yesterday = compute_with_rules([ended], seller, 1_000_000, TODAY - timedelta(days=1))
    assert amounts(yesterday.withheld) == {"PPH23": 20_000}


def test_a_rule_starting_tomorrow_does_not_apply_today():
    upcoming = pph23_at(250, TODAY + timedelta(days=1))
    seller = vendor(registered=False)
    assert compute_with_rules([upcoming], seller, 1_000_000, TODAY).withheld == ()
    tomorrow = compute_with_rules([upcoming], seller, 1_000_000, TODAY + timedelta(days=1))
    assert amounts(tomorrow.withheld) == {"PPH23": 25_000}


def test_a_rate_change_takes_effect_on_its_first_day():
    rules = [pph23_at(200, date(2009, 1, 1), end=TODAY), pph23_at(250, TODAY)]
    seller = vendor(registered=False)
    before = compute_with_rules(rules, seller, 1_000_000, TODAY - timedelta(days=1))
    after = compute_with_rules(rules, seller, 1_000_000, TODAY)
    assert amounts(before.withheld) == {"PPH23": 20_000}
    assert amounts(after.withheld) == {"PPH23": 25_000}


def test_two_rules_with_one_code_for_the_same_sale_are_a_data_error():
    rules = [*default_rules(), pph23_at(250, TODAY)]
    with pytest.raises(Conflict, match="PPH23"):
        compute_with_rules(rules, vendor(), 1_000_000, TODAY)
    # vendors the second rule does not reach are not affected
    assert taxes(vendor(npwp=False), 1_100_000).withheld_total == 40_000


# The frozen form ---------------------------------------------------------------------


def test_the_breakdown_survives_json_and_back():
    result = taxes(vendor(), 1_234_567)
    frozen = json.loads(json.dumps(result.as_dict()))
    assert frozen["net_payable"] == 1_212_121
    assert frozen["withheld"][0]["kind"] == "withheld"
    assert TaxBreakdown.from_dict(frozen) == result


@pytest.mark.parametrize(
    ("rate_bp", "comma", "dot"),
    [
        (1000, "10%", "10%"),
        (150, "1,5%", "1.5%"),
        (25, "0,25%", "0.25%"),
        (10000, "100%", "100%"),
        (0, "0%", "0%"),
        (205, "2,05%", "2.05%"),
    ],
)
def test_rates_are_shown_as_percentages(rate_bp, comma, dot):
    assert format_rate(rate_bp) == comma
    assert format_rate(rate_bp, ".") == dot


# Invariants --------------------------------------------------------------------------

sellers = st.builds(
    VendorTaxProfile,
    business_type=st.sampled_from(list(BusinessType)),
    npwp=st.sampled_from([None, "", NPWP]),
    regional_tax_number=st.sampled_from([None, " ", NPWPD]),
)


def assert_consistent(result: TaxBreakdown, gross: int) -> None:
    figures = [result.gross, result.base, result.charged_total, result.withheld_total]
    figures += [line.amount for line in (*result.charged, *result.withheld)]
    assert all(type(figure) is int and figure >= 0 for figure in figures)
    assert result.gross == gross
    assert result.base + result.charged_total == gross
    assert 0 <= result.withheld_total <= result.base
    assert result.net_payable == gross - result.withheld_total


@given(gross=st.integers(min_value=0, max_value=10**10), seller=sellers)
def test_the_default_rules_always_add_up(gross, seller):
    assert_consistent(taxes(seller, gross), gross)


@given(
    gross=st.integers(min_value=0, max_value=10**10),
    charged=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(list(Rounding))), min_size=1, max_size=3
    ),
)
def test_several_charged_taxes_still_add_up_to_the_gross(gross, charged):
    rules = [
        TaxRule(
            code=f"T{position}",
            name=f"Tax {position}",
            kind=TaxKind.CHARGED,
            rate_bp=rate_bp,
            business_types=[],
            requires_regional_registration=False,
            vendor_has_npwp=None,
            rounding=rounding,
            effective_from=date(2020, 1, 1),
            legal_basis="",
        )
        for position, (rate_bp, rounding) in enumerate(charged)
    ]
    result = compute_with_rules(rules, vendor(), gross, TODAY)
    assert len(result.charged) == len(charged)
    assert_consistent(result, gross)

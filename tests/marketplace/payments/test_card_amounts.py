"""Rupiah <-> Stripe minor units: IDR has two decimals at Stripe, rupiah are whole."""

import pytest

from marketplace.payments.stripe_gateway import NotWholeRupiah, from_minor_units, to_minor_units


@pytest.mark.parametrize(
    ("rupiah", "minor"),
    [(1, 100), (35_000, 3_500_000), (1_250_000, 125_000_000), (50_000_000_000, 5_000_000_000_000)],
)
def test_rupiah_convert_exactly_both_ways(rupiah, minor):
    assert to_minor_units(rupiah) == minor
    assert from_minor_units(minor) == rupiah


@pytest.mark.parametrize("minor", [1, 99, 3_500_050, -1])
def test_a_stripe_amount_that_is_not_whole_rupiah_is_refused(minor):
    with pytest.raises(NotWholeRupiah):
        from_minor_units(minor)


@pytest.mark.parametrize("value", [1.0, 350_000.5, "350000", True, None])
def test_only_integers_are_converted(value):
    with pytest.raises(TypeError):
        to_minor_units(value)
    with pytest.raises(TypeError):
        from_minor_units(value)

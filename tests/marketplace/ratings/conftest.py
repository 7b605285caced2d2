"""Received orders to rate, for the vendor of the world and for the other vendor."""

from dataclasses import replace

import pytest


@pytest.fixture
def received(db, world):
    """received(other_vendor=False) -> an order of the world's requester, received."""

    def make(other_vendor: bool = False):  # type: ignore[no-untyped-def]
        walker = world
        if other_vendor:
            walker = replace(
                world,
                vendor=world.other_vendor,
                product=world.other_product,
                vendor_owner=world.other_vendor_owner,
            )
        return walker.order_in(db, "received")

    return make

"""Listings: validation of what a vendor enters, and what the catalogue shows."""

import pytest
from sqlalchemy import select

from catalog.models import Product, ProductStatus, Unit, VendorStatus
from catalog.services import (
    ListingData,
    ListingError,
    create_listing,
    orderable_products_query,
    update_listing,
)
from tests.support import CategoryFactory, ProductFactory, VendorFactory, bind_factories


@pytest.fixture
def vendor(db):
    bind_factories(db)
    return VendorFactory()


@pytest.fixture
def category(db):
    bind_factories(db)
    return CategoryFactory(slug="tumpeng", name_id="Tumpeng", name_en="Tumpeng")


def data(category, **overrides):
    values = dict(
        name="Tumpeng Mini",
        description="Untuk 10 orang",
        category_id=category.id,
        unit=Unit.PACKAGE,
        price=750_000,
    )
    values.update(overrides)
    return ListingData(**values)


def test_a_valid_listing_is_saved(db, vendor, category):
    product = create_listing(db, vendor, data(category, name="  Tumpeng Mini  "))
    assert product.id is not None
    assert product.name == "Tumpeng Mini"
    assert product.status is ProductStatus.PUBLISHED


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "   "}, "name"),
        ({"price": 0}, "price"),
        ({"price": -1000}, "price"),
        ({"price": 1.5}, "price"),
        ({"price": True}, "price"),
        ({"price": 2_000_000_000}, "price"),
        ({"min_order_quantity": 0}, "min_order_quantity"),
        ({"lead_time_hours": -1}, "lead_time_hours"),
        ({"category_id": 999_999}, "category_id"),
    ],
)
def test_bad_listings_are_refused_with_the_field_to_fix(db, vendor, category, overrides, field):
    with pytest.raises(ListingError) as info:
        create_listing(db, vendor, data(category, **overrides))
    assert info.value.field == field
    assert db.scalars(select(Product)).all() == []


def test_names_are_unique_per_vendor_not_across_vendors(db, vendor, category):
    create_listing(db, vendor, data(category))
    with pytest.raises(ListingError):
        create_listing(db, vendor, data(category, name="TUMPENG MINI"))
    create_listing(db, VendorFactory(), data(category))


def test_update_keeps_its_own_name(db, vendor, category):
    product = create_listing(db, vendor, data(category))
    update_listing(db, product, data(category, price=800_000))
    assert product.price == 800_000


def test_the_catalogue_shows_only_what_can_be_ordered(db, category):
    bind_factories(db)
    shown = ProductFactory(name="Tumpeng Nasi Kuning", category=category)
    ProductFactory(name="Tumpeng Paused", category=category, status=ProductStatus.PAUSED)
    ProductFactory(
        name="Tumpeng Pending Vendor",
        category=category,
        vendor=VendorFactory(status=VendorStatus.PENDING),
    )
    found = db.scalars(orderable_products_query("tumpeng")).unique().all()
    assert [p.name for p in found] == [shown.name]


def test_search_matches_words_categories_and_treats_wildcards_literally(db, category):
    bind_factories(db)
    ProductFactory(name="Nasi Box Ayam", description="Ayam bakar madu")
    ProductFactory(name="Tumpeng Kuning", category=category)
    names = lambda text, cat="": [  # noqa: E731
        p.name for p in db.scalars(orderable_products_query(text, cat)).unique()
    ]
    assert names("ayam madu") == ["Nasi Box Ayam"]
    assert names("", "tumpeng") == ["Tumpeng Kuning"]
    assert names("%") == []
    assert names("_") == []

"""Sorting the catalogue by vendor rating, with ratings saved through the service."""

from datetime import timedelta

from sqlalchemy import update

from catalog.models import Vendor
from marketplace.ratings.services import rate_vendor
from marketplace.search import catalog_index, mark_vendor_changed


def by_rating(app):
    return catalog_index(app.config["SEARCH_INDEX_DIR"]).search("", sort="rating").ids


def test_the_better_rated_vendor_comes_first(app, client, db, login, world, received):
    world.product.created_at -= timedelta(days=1)
    db.commit()
    a, b = world.product.id, world.other_product.id  # b is the newer product
    assert by_rating(app) == [b, a]  # nobody rated: newest first

    rate_vendor(db, world.requester, received(), 4, "")
    rate_vendor(db, world.requester, received(other_vendor=True), 3, "")
    db.commit()  # the vendors' products are re-indexed after the commit

    assert by_rating(app) == [a, b]
    login(world.requester)
    html = client.get("/catalog/?sort=rating").get_data(as_text=True)
    assert html.index(world.product.name) < html.index(world.other_product.name)

    # Equal averages (4.0): the vendor with more ratings comes first, then the newest.
    rate_vendor(db, world.requester, received(other_vendor=True), 5, "")
    db.commit()
    assert by_rating(app) == [b, a]  # 2 ratings against 1
    rate_vendor(db, world.requester, received(), 4, "")
    rate_vendor(db, world.requester, received(), 4, "")
    db.commit()
    assert by_rating(app) == [a, b]  # 3 ratings against 2, though b is newer


def test_a_rolled_back_savepoint_keeps_the_pending_reindex(app, db, world):
    world.product.created_at -= timedelta(days=1)
    db.commit()
    assert by_rating(app) == [world.other_product.id, world.product.id]
    db.execute(
        update(Vendor)
        .where(Vendor.id == world.vendor.id)
        .values(rating_count=1, rating_stars_total=5)
    )
    mark_vendor_changed(db, world.vendor.id)
    try:
        with db.begin_nested():
            world.other_vendor.trading_name = "Warung Lain"
            db.flush()
            raise RuntimeError("undo the savepoint only")
    except RuntimeError:
        pass
    db.commit()

    assert by_rating(app) == [world.product.id, world.other_product.id]

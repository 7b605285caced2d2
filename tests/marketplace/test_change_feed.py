"""The catalogue change feed: commits leave rows, a node's follower brings its own index in
step (late ids, a node too far behind), and the feed is pruned."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, or_, select

from catalog.changes import GAP_SECONDS, CatalogChange, ChangeFollower, prune
from catalog.db import utcnow
from catalog.models import Product, ProductStatus, ReviewState
from catalog.search import CatalogIndex
from tests.support import ProductFactory


def _rows(db) -> list[CatalogChange]:  # type: ignore[no-untyped-def]
    rows = list(db.scalars(select(CatalogChange).order_by(CatalogChange.id)))
    db.commit()
    return rows


def _node(tmp_path, db):  # type: ignore[no-untyped-def]
    """Another node's index, in step with the database as it is now."""
    db.commit()
    directory = tmp_path / "node-b"
    index = CatalogIndex.open(directory)
    follower = ChangeFollower(index, directory)
    assert follower.follow(db).resynced
    db.commit()
    return index, follower


def _found(index: CatalogIndex, words: str) -> set[int]:
    return set(index.search(words, with_facets=False).ids)


def test_a_committed_change_leaves_rows_and_a_rolled_back_one_none(db, world):
    db.commit()
    before = len(_rows(db))
    product = ProductFactory(vendor=world.vendor, category=world.product.category)
    db.commit()
    rows = _rows(db)
    assert product.id in {r.product_id for r in rows[before:]}

    product.price += 1000
    db.rollback()
    assert len(_rows(db)) == len(rows)

    world.vendor.trading_name = "Dapur Baru"
    db.commit()
    assert _rows(db)[-1].vendor_id == world.vendor.id


def test_another_node_follows_a_product_published_here(db, world, tmp_path):
    index, follower = _node(tmp_path, db)
    product = ProductFactory(
        vendor=world.vendor,
        category=world.product.category,
        name="Klepon Pandan Gula Merah",
        review_state=ReviewState.PENDING,
    )
    db.commit()
    assert follower.follow(db).products >= 1
    db.commit()
    assert product.id not in _found(index, "klepon")  # not orderable yet

    product.review_state = ReviewState.APPROVED
    db.commit()
    report = follower.follow(db)
    db.commit()
    assert report.changes >= 1 and report.products >= 1
    assert product.id in _found(index, "klepon")

    product.status = ProductStatus.PAUSED
    db.commit()
    follower.follow(db)
    db.commit()
    assert product.id not in _found(index, "klepon")
    assert follower.follow(db).changes == 0  # nothing new: nothing read again


def test_a_vendor_change_reaches_all_its_products(db, world, tmp_path):
    index, follower = _node(tmp_path, db)
    world.vendor.trading_name = "Warung Serabi Solo"
    db.commit()
    follower.follow(db)
    db.commit()
    vendor_products = set(
        db.scalars(select(Product.id).where(Product.vendor_id == world.vendor.id))
    )
    db.commit()
    assert vendor_products and vendor_products <= _found(index, "serabi")


def test_an_id_that_commits_late_is_not_missed(db, world, tmp_path):
    """Ids are handed out at insert, not at commit: 2 may become visible after 3 was read."""
    index, follower = _node(tmp_path, db)
    late = ProductFactory(vendor=world.vendor, category=world.product.category, name="Getuk Lindri")
    early = ProductFactory(vendor=world.vendor, category=world.product.category, name="Cucur Gula")
    db.commit()
    late_row = next(row for row in _rows(db) if row.product_id == late.id)
    # Stage it: only the later product's row is visible yet (the vendor's rows would bring
    # both products along, so they go too).
    db.execute(
        CatalogChange.__table__.delete().where(
            CatalogChange.id > follower._load().last_id,
            or_(CatalogChange.product_id.is_(None), CatalogChange.product_id != early.id),
        )
    )
    db.commit()
    follower.follow(db)
    db.commit()
    assert early.id in _found(index, "cucur")
    assert late.id not in _found(index, "getuk")
    assert late_row.id in follower._load().gaps

    db.execute(
        insert(CatalogChange),
        [{"id": late_row.id, "product_id": late.id, "created_at": utcnow()}],
    )
    db.commit()
    follower.follow(db)
    db.commit()
    assert late.id in _found(index, "getuk")


def test_a_gap_that_never_fills_is_given_up(db, world, tmp_path):
    _index, follower = _node(tmp_path, db)
    top = db.scalar(select(func.max(CatalogChange.id))) or 0
    db.execute(
        insert(CatalogChange),
        [{"id": top + 5, "product_id": world.product.id, "created_at": utcnow()}],
    )
    db.commit()
    follower.follow(db, now=1000.0)
    db.commit()
    assert set(follower._load().gaps) == {top + 1, top + 2, top + 3, top + 4}
    follower.follow(db, now=1000.0 + GAP_SECONDS + 1)
    db.commit()
    assert follower._load().gaps == {}


def test_a_node_too_far_behind_syncs_its_whole_index(db, world, tmp_path):
    index, follower = _node(tmp_path, db)
    product = ProductFactory(
        vendor=world.vendor, category=world.product.category, name="Lemper Ayam"
    )
    db.commit()
    db.execute(CatalogChange.__table__.delete())  # pruned while this node was away
    db.execute(
        insert(CatalogChange),
        [{"id": 10_000_000, "product_id": world.product.id, "created_at": utcnow()}],
    )
    db.commit()
    assert follower.follow(db).resynced
    db.commit()
    assert product.id in _found(index, "lemper")


def test_old_rows_are_pruned(db, world):
    ProductFactory(vendor=world.vendor, category=world.product.category)
    db.commit()
    assert prune(db, now=utcnow()) == 0
    assert prune(db, now=utcnow() + timedelta(days=3)) > 0
    db.commit()
    assert _rows(db) == []

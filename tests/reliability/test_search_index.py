"""A corrupt, lost or locked search index: the catalogue keeps answering from the database with
a notice, /readyz names the index, a product change still commits, and the CLI repairs it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select
from whoosh import index as whoosh_index

from catalog.models import Product, ProductStatus, ReviewState
from tests.support import ProductFactory, bind_factories

NOTICE = "Search is running in a simpler mode"


@pytest.fixture
def shelf(db, world):  # type: ignore[no-untyped-def]
    """Two orderable rendang boxes, a paused one, and the world's ayam bakar (indexed at commit)."""
    bind_factories(db)
    category = world.product.category
    padang = ProductFactory(vendor=world.vendor, category=category, name="Nasi Box Rendang Padang")
    sapi = ProductFactory(
        vendor=world.other_vendor,
        category=category,
        name="Paket Rapat Sapi",
        description="Nasi, rendang sapi, sayur nangka.",
    )
    ProductFactory(
        vendor=world.vendor, category=category, name="Rendang Libur", status=ProductStatus.PAUSED
    )
    db.commit()
    return {"padang": padang, "sapi": sapi}


def corrupt(directory: str) -> None:
    """Overwrite every index file and add a newer, unreadable table of contents."""
    path = Path(directory)
    for file in path.iterdir():
        if file.is_file():
            file.write_bytes(b"\x00\xffnot whoosh\x00" * 32)
    (path / "_MAIN_9999.toc").write_bytes(b"half a table of contents")


def lose_table_of_contents(directory: str) -> None:
    for toc in Path(directory).glob("_MAIN_*.toc"):
        toc.unlink()


def catalogue_page(client, query: str = ""):  # type: ignore[no-untyped-def]
    response = client.get(f"/catalog/?q={query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def reindex(app, command: str = "reindex"):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["catalog", command])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("damage", [corrupt, lose_table_of_contents])
def test_a_broken_index_falls_back_to_the_database_with_a_notice_until_reindexed(
    app, client, db, login, world, shelf, caplog, damage
):
    login(world.requester)
    page = catalogue_page(client, "rendang")
    assert NOTICE not in page
    assert "Nasi Box Rendang Padang" in page and "Paket Rapat Sapi" in page

    damage(app.config["SEARCH_INDEX_DIR"])

    with caplog.at_level(logging.WARNING, logger="marketplace.shop.views"):
        page = catalogue_page(client, "rendang")
    assert NOTICE in page
    # the same visibility rules: orderable products only, matched by name or description
    assert "Nasi Box Rendang Padang" in page and "Paket Rapat Sapi" in page
    assert "Rendang Libur" not in page
    assert world.product.name not in page
    assert "2 products" in page
    assert "search index unreadable" in caplog.text
    everything = catalogue_page(client)
    assert all(p.name in everything for p in (*shelf.values(), world.product, world.other_product))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["failing"] == ["search_index"]

    assert "Search index rebuilt." in reindex(app)

    page = catalogue_page(client, "rendang")
    assert NOTICE not in page
    assert "Nasi Box Rendang Padang" in page and "Paket Rapat Sapi" in page
    assert "Rendang Libur" not in page
    assert client.get("/readyz").status_code == 200


def test_the_simple_search_pages_its_results(app, client, db, login, world, shelf):
    bind_factories(db)
    for n in range(30):
        ProductFactory(vendor=world.vendor, category=world.product.category, name=f"Kue {n:02d}")
    db.commit()
    login(world.requester)
    corrupt(app.config["SEARCH_INDEX_DIR"])

    first = catalogue_page(client, "kue")
    second = client.get("/catalog/?q=kue&page=2").get_data(as_text=True)

    assert NOTICE in first and NOTICE in second
    assert "30 products" in first and "Page 1 of 2" in first and "Page 2 of 2" in second
    on_first = {f"Kue {n:02d}" for n in range(30) if f"Kue {n:02d}" in first}
    on_second = {f"Kue {n:02d}" for n in range(30) if f"Kue {n:02d}" in second}
    assert len(on_first) == 24 and len(on_second) == 6 and not on_first & on_second


def test_a_locked_index_never_blocks_a_listing_change_and_sync_catches_up(
    app, client, db, login, world
):
    bind_factories(db)
    product = ProductFactory(
        vendor=world.vendor, name="Tumpeng Nasi Kuning Mini", review_state=ReviewState.PENDING
    )
    db.commit()
    # another process's writer holds the index's lock for the whole request
    other_writer = whoosh_index.open_dir(app.config["SEARCH_INDEX_DIR"]).writer()
    try:
        login(world.curator)
        response = client.post(f"/admin/listings/{product.id}/approve")
        assert response.status_code == 302
        state = db.scalar(select(Product.review_state).where(Product.id == product.id))
        assert state is ReviewState.APPROVED
        login(world.requester)
        assert "Tumpeng Nasi Kuning Mini" not in catalogue_page(client, "tumpeng")
    finally:
        other_writer.cancel()

    assert "Search index in step." in reindex(app, "sync-search")

    page = catalogue_page(client, "tumpeng")
    assert "Tumpeng Nasi Kuning Mini" in page
    assert NOTICE not in page

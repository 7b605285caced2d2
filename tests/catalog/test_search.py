"""Product search: Indonesian stemming, English synonyms, typos, facets, filters, sorting,
paging, and an index that only ever holds orderable products and repairs itself."""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from whoosh import index as whoosh_index

from catalog.models import BusinessScale, ProductStatus, ReviewState, VendorStatus
from catalog.search import CatalogIndex, SearchUnavailable, database_search
from catalog.search_analysis import build_document
from tests.support import CategoryFactory, ProductFactory, VendorFactory, bind_factories

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# name, category, vendor, price, lead time (hours), tags, description
CORPUS = [
    ("Nasi Box Ayam Bakar Madu", "nasi-box", "sri", 35_000, 24, ["halal", "no_nuts"],
     "Nasi putih, ayam bakar madu, lalapan dan sambal terasi."),
    ("Nasi Box Ayam Bakar", "nasi-box", "betawi", 30_000, 24, ["halal"],
     "Nasi putih, ayam bakar, lalapan, sambal."),
    ("Nasi Box Rendang Sapi", "nasi-box", "betawi", 45_000, 48, ["halal"],
     "Nasi putih, rendang sapi, sayur daun singkong."),
    ("Nasi Box Ikan Bakar", "nasi-box", "sri", 40_000, 24, ["halal"],
     "Nasi putih, ikan kembung bakar, sambal dabu-dabu."),
    ("Snack Box Tradisional Isi 3", "snack-box", "sri", 15_000, 24, ["halal", "vegetarian"],
     "Lemper, klepon dan dadar gulung."),
    ("Snack Box Kue Basah Isi 4", "snack-box", "betawi", 20_000, 48, ["halal", "vegetarian"],
     "Kue lapis, nagasari, putu ayu dan bika ambon."),
    ("Kopi Susu Gula Aren 1 Liter", "minuman", "kopi", 85_000, 12,
     ["halal", "vegetarian", "no_nuts"], "Kopi robusta dengan susu segar dan gula aren."),
    ("Teh Manis Dingin 1 Liter", "minuman", "kopi", 30_000, 12,
     ["halal", "vegetarian", "vegan"], "Teh melati diseduh segar."),
    ("Air Minum Galon 19 Liter", "minuman", "kopi", 25_000, 24, ["halal", "vegan"],
     "Air minum isi ulang, galon bersegel."),
    ("Jus Jeruk Segar 1 Liter", "minuman", "kopi", 40_000, 24,
     ["halal", "vegan", "vegetarian", "low_sugar"], "Jeruk peras tanpa gula tambahan."),
    ("Tumpeng Nasi Kuning Isi 20 Orang", "tumpeng", "betawi", 750_000, 72, ["halal"],
     "Tumpeng lengkap dengan urap, telur balado dan perkedel."),
    ("Tumpeng Mini Nasi Uduk", "tumpeng", "sri", 250_000, 48, ["halal"],
     "Tumpeng kecil untuk syukuran kantor."),
    ("Paket Makan Siang Prasmanan", "prasmanan", "betawi", 65_000, 48, ["halal"],
     "Nasi, ayam goreng, sayur asem, kerupuk dan buah."),
    ("Paket Rapat Makanan dan Minuman", "prasmanan", "kopi", 55_000, 24, ["halal"],
     "Snack, kopi atau teh untuk rapat koordinasi."),
    ("Buah Potong Segar", "buah", "sri", 20_000, 24,
     ["halal", "vegan", "vegetarian", "low_sugar", "no_nuts"], "Semangka, melon dan pepaya."),
    ("Fruit Salad Cup", "buah", "kopi", 22_000, 24, ["halal", "vegetarian", "low_sugar"],
     "Melon, strawberry and yoghurt dressing."),
]  # fmt: skip

CATEGORIES = {
    "nasi-box": ("Nasi Box", "Rice Box"),
    "snack-box": ("Snack Box", "Snack Box"),
    "minuman": ("Minuman", "Beverages"),
    "tumpeng": ("Tumpeng", "Tumpeng"),
    "prasmanan": ("Prasmanan", "Buffet"),
    "buah": ("Buah", "Fruit"),
}
VENDORS = {
    "sri": ("Dapur Bu Sri", "Tebet", BusinessScale.MICRO),
    "betawi": ("Katering Betawi Asli", "Menteng", BusinessScale.SMALL),
    "kopi": ("Kedai Kopi Nusantara", "Gambir", BusinessScale.MEDIUM),
}


@pytest.fixture
def catalogue(db):
    """Name -> product, for CORPUS; the first product is the oldest."""
    bind_factories(db)
    categories = {
        slug: CategoryFactory(slug=slug, name_id=name_id, name_en=name_en)
        for slug, (name_id, name_en) in CATEGORIES.items()
    }
    vendors = {
        key: VendorFactory(trading_name=name, district=district, scale=scale)
        for key, (name, district, scale) in VENDORS.items()
    }
    products = {}
    for i, (name, category, vendor, price, lead, tags, description) in enumerate(CORPUS):
        products[name] = ProductFactory(
            name=name,
            category=categories[category],
            vendor=vendors[vendor],
            price=price,
            lead_time_hours=lead,
            tags=tags,
            description=description,
            review_state=ReviewState.APPROVED,
            created_at=START + timedelta(hours=i),
        )
    return products


@pytest.fixture
def index(tmp_path):
    with CatalogIndex.open(tmp_path / "index") as catalog_index:
        yield catalog_index


@pytest.fixture
def built(index, db, catalogue):
    assert index.rebuild(db)
    return index


def names(catalogue, ids):
    by_id = {p.id: name for name, p in catalogue.items()}
    return [by_id[i] for i in ids]


def found(index, catalogue, text, **filters):
    return names(catalogue, index.search(text, page_size=100, **filters).ids)


# Relevance, stemming, synonyms, stop words --------------------------------------------------


def test_the_exact_name_ranks_first(built, catalogue):
    assert found(built, catalogue, "Nasi Box Ayam Bakar")[:2] == [
        "Nasi Box Ayam Bakar",
        "Nasi Box Ayam Bakar Madu",
    ]
    assert found(built, catalogue, "nasi box ayam bakar madu")[0] == "Nasi Box Ayam Bakar Madu"


def test_a_word_in_the_name_outranks_the_same_word_in_a_description(built, catalogue):
    results = found(built, catalogue, "ayam")
    assert set(results[:2]) == {"Nasi Box Ayam Bakar", "Nasi Box Ayam Bakar Madu"}
    assert results[2:] == ["Paket Makan Siang Prasmanan"]


def test_every_word_must_match(built, catalogue):
    assert found(built, catalogue, "tumpeng uduk") == ["Tumpeng Mini Nasi Uduk"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("minuman", "Air Minum Galon 19 Liter"),
        ("minum", "Paket Rapat Makanan dan Minuman"),
        ("makanan", "Paket Makan Siang Prasmanan"),
        ("makan", "Paket Rapat Makanan dan Minuman"),
    ],
)
def test_indonesian_words_are_found_by_their_stem(built, catalogue, query, expected):
    assert expected in found(built, catalogue, query)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("coffee", ["Kopi Susu Gula Aren 1 Liter", "Paket Rapat Makanan dan Minuman"]),
        ("milk coffee", ["Kopi Susu Gula Aren 1 Liter"]),
        ("beef", ["Nasi Box Rendang Sapi"]),
        ("juice", ["Jus Jeruk Segar 1 Liter"]),
        ("buffet", ["Paket Makan Siang Prasmanan", "Paket Rapat Makanan dan Minuman"]),
    ],
)
def test_english_queries_find_indonesian_listings(built, catalogue, query, expected):
    assert found(built, catalogue, query)[: len(expected)] == expected


def test_chicken_finds_ayam(built, catalogue):
    assert set(found(built, catalogue, "chicken")) == {
        "Nasi Box Ayam Bakar",
        "Nasi Box Ayam Bakar Madu",
        "Paket Makan Siang Prasmanan",
    }


def test_indonesian_queries_find_english_listings(built, catalogue):
    assert found(built, catalogue, "salad buah") == ["Fruit Salad Cup"]


def test_stop_words_are_ignored(built, catalogue):
    assert found(built, catalogue, "tradisional isi 3") == ["Snack Box Tradisional Isi 3"]
    assert built.search("snack box isi 3").ids == built.search("snack box").ids
    assert found(built, catalogue, "makanan dan minuman") == ["Paket Rapat Makanan dan Minuman"]


# Typos -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("ayma bakar", "ayam bakar"), ("tumpen", "tumpeng"), ("rendagn", "rendang")],
)
def test_a_misspelt_query_shows_results_for_the_correction(built, typed, meant):
    result = built.search(typed)

    corrected = built.search(meant)
    assert result.suggestion == meant
    assert result.showing_suggestion
    assert result.total == corrected.total > 0
    assert result.ids == corrected.ids


def test_a_query_that_finds_products_gets_no_suggestion(built):
    result = built.search("tumpeng")

    assert result.total == 2
    assert result.suggestion is None
    assert not result.showing_suggestion


def test_a_query_close_to_nothing_gets_no_suggestion(built):
    result = built.search("xylofon")

    assert (result.total, result.ids, result.suggestion) == (0, [], None)


# Facets ------------------------------------------------------------------------------------------


def test_browsing_counts_every_facet(built):
    facets = built.search("").facets

    # Most frequent first, then alphabetically.
    assert list(facets["category"].items()) == [
        ("minuman", 4),
        ("nasi-box", 4),
        ("buah", 2),
        ("prasmanan", 2),
        ("snack-box", 2),
        ("tumpeng", 2),
    ]
    assert facets["tag"] == {
        "halal": 16,
        "vegetarian": 7,
        "vegan": 4,
        "low_sugar": 3,
        "no_nuts": 3,
    }
    assert facets["price"] == {
        "0-24999": 4,
        "25000-49999": 7,
        "50000-99999": 3,
        "100000-499999": 1,
        "500000-": 1,
    }
    assert facets["district"] == {"Gambir": 6, "Tebet": 5, "Menteng": 5}
    assert facets["scale"] == {"medium": 6, "micro": 5, "small": 5}
    assert facets["lead_time"] == {"24": 11, "48": 15, "72": 16}


def test_facets_count_the_text_query(built):
    facets = built.search("tumpeng").facets

    assert facets["category"] == {"tumpeng": 2}
    assert facets["price"] == {"100000-499999": 1, "500000-": 1}
    assert facets["district"] == {"Menteng": 1, "Tebet": 1}
    assert facets["lead_time"] == {"48": 1, "72": 2}


def test_a_facet_ignores_its_own_filter_and_obeys_the_others(built):
    facets = built.search("", category="minuman").facets

    # Other categories stay on offer, with their counts ...
    assert facets["category"]["nasi-box"] == 4
    assert facets["category"]["minuman"] == 4
    # ... while every other facet counts beverages only.
    assert facets["district"] == {"Gambir": 4}
    assert facets["price"] == {"25000-49999": 3, "50000-99999": 1}
    assert facets["tag"]["vegan"] == 3


def test_tag_counts_are_within_the_chosen_tags(built):
    facets = built.search("", tags=["vegan"]).facets

    assert facets["tag"] == {"halal": 4, "vegan": 4, "vegetarian": 3, "low_sugar": 2, "no_nuts": 1}


# Filters -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "tumpeng"}, {"Tumpeng Nasi Kuning Isi 20 Orang", "Tumpeng Mini Nasi Uduk"}),
        ({"tags": ["vegan", "low_sugar"]}, {"Jus Jeruk Segar 1 Liter", "Buah Potong Segar"}),
        ({"price_min": 50_000, "price_max": 85_000}, {
            "Kopi Susu Gula Aren 1 Liter",
            "Paket Makan Siang Prasmanan",
            "Paket Rapat Makanan dan Minuman",
        }),
        ({"price_min": 500_000}, {"Tumpeng Nasi Kuning Isi 20 Orang"}),
        ({"district": "Menteng", "deliverable_within_hours": 24}, {"Nasi Box Ayam Bakar"}),
        ({"scale": "micro", "price_max": 20_000}, {
            "Snack Box Tradisional Isi 3",
            "Buah Potong Segar",
        }),
        ({"deliverable_within_hours": 12}, {
            "Kopi Susu Gula Aren 1 Liter",
            "Teh Manis Dingin 1 Liter",
        }),
    ],
)  # fmt: skip
def test_filters_narrow_the_results(built, catalogue, filters, expected):
    result = built.search("", page_size=100, **filters)

    assert set(names(catalogue, result.ids)) == expected
    assert result.total == len(expected)


def test_filters_apply_to_a_text_query(built, catalogue):
    assert found(built, catalogue, "nasi", category="tumpeng", price_max=300_000) == [
        "Tumpeng Mini Nasi Uduk"
    ]


# Sorting and paging ------------------------------------------------------------------------------


def by_price(descending=False):
    """CORPUS names by price; equal prices put the newer (later) product first."""
    sign = -1 if descending else 1
    order = sorted(range(len(CORPUS)), key=lambda i: (sign * CORPUS[i][3], -i))
    return [CORPUS[i][0] for i in order]


def test_sorting_by_price(built, catalogue):
    assert found(built, catalogue, "", sort="price_asc") == by_price()
    assert found(built, catalogue, "", sort="price_desc") == by_price(descending=True)


def test_sorting_by_price_within_a_text_query(built, catalogue):
    assert found(built, catalogue, "nasi box", sort="price_asc") == [
        "Nasi Box Ayam Bakar",
        "Nasi Box Ayam Bakar Madu",
        "Nasi Box Ikan Bakar",
        "Nasi Box Rendang Sapi",
    ]


def test_sorting_by_newest_and_browsing(built, catalogue):
    newest_first = [name for name, *_ in reversed(CORPUS)]

    assert found(built, catalogue, "", sort="newest") == newest_first
    # Without text there is no relevance: browsing shows the newest first.
    assert found(built, catalogue, "") == newest_first
    # No ratings yet: rating order falls back to the newest.
    assert found(built, catalogue, "", sort="rating") == newest_first


def rate(vendor, count, stars_total):
    vendor.rating_count, vendor.rating_stars_total = count, stars_total


def test_sorting_by_vendor_rating_then_number_of_ratings(index, db, catalogue):
    sri, betawi, kopi = (
        catalogue[name].vendor
        for name in (
            "Nasi Box Ayam Bakar Madu",
            "Nasi Box Ayam Bakar",
            "Kopi Susu Gula Aren 1 Liter",
        )
    )
    rate(sri, 2, 9)  # 4.5
    rate(betawi, 4, 18)  # 4.5, from more ratings
    rate(kopi, 1, 5)  # 5.0
    db.flush()
    assert index.rebuild(db)

    ranked = found(index, catalogue, "", sort="rating")

    vendor_of = {name: vendor for name, _, vendor, *_ in CORPUS}
    order = [vendor_of[name] for name in ranked]
    assert order == ["kopi"] * 6 + ["betawi"] * 5 + ["sri"] * 5
    # Within one vendor, the newest first.
    assert ranked[:6] == [name for name, _, vendor, *_ in reversed(CORPUS) if vendor == "kopi"]


def test_sorting_by_rating_within_a_text_query(index, db, catalogue):
    rate(catalogue["Nasi Box Rendang Sapi"].vendor, 3, 14)  # betawi, 4.7
    rate(catalogue["Nasi Box Ikan Bakar"].vendor, 3, 10)  # sri, 3.3
    db.flush()
    assert index.rebuild(db)
    assert found(index, catalogue, "nasi box", sort="rating") == [
        "Nasi Box Rendang Sapi",
        "Nasi Box Ayam Bakar",
        "Nasi Box Ikan Bakar",
        "Nasi Box Ayam Bakar Madu",
    ]


def test_an_unknown_sort_is_refused(built):
    with pytest.raises(ValueError, match="sort"):
        built.search("", sort="cheapest")  # type: ignore[arg-type]


def test_pages_split_the_results_without_overlap(built):
    everything = built.search("", sort="price_asc", page_size=100).ids
    pages = [built.search("", sort="price_asc", page=n, page_size=5) for n in (1, 2, 3, 4)]

    assert [p.pages for p in pages] == [4, 4, 4, 4]
    assert [p.page for p in pages] == [1, 2, 3, 4]
    assert [len(p.ids) for p in pages] == [5, 5, 5, 1]
    assert [i for p in pages for i in p.ids] == everything
    assert all(p.total == len(CORPUS) for p in pages)


def test_a_page_past_the_end_shows_the_last_page(built):
    result = built.search("nasi box", page=9, page_size=3)

    assert (result.page, result.pages, len(result.ids)) == (2, 2, 1)


# What gets indexed -------------------------------------------------------------------------------


@pytest.fixture
def unorderable(db, catalogue):
    """Products that must never be found: paused, waiting for the curator, rejected, delisted,
    and from a vendor that is not verified."""
    vendor = catalogue["Nasi Box Ayam Bakar"].vendor
    category = catalogue["Nasi Box Ayam Bakar"].category
    pending_vendor = VendorFactory(status=VendorStatus.PENDING)
    kw = {"category": category, "description": "Ayam goreng serundeng."}
    return [
        ProductFactory(vendor=vendor, name="Ayam Serundeng Libur", status=ProductStatus.PAUSED,
                       review_state=ReviewState.APPROVED, **kw),
        ProductFactory(vendor=vendor, name="Ayam Serundeng Baru", review_state=ReviewState.PENDING,
                       **kw),
        ProductFactory(vendor=vendor, name="Ayam Serundeng Ditolak",
                       review_state=ReviewState.REJECTED, **kw),
        ProductFactory(vendor=vendor, name="Ayam Serundeng Lama", review_state=ReviewState.APPROVED,
                       delisted_reason="Sertifikat halal kedaluwarsa", **kw),
        ProductFactory(vendor=pending_vendor, name="Ayam Serundeng Calon",
                       review_state=ReviewState.APPROVED, **kw),
    ]  # fmt: skip


def test_only_orderable_products_are_indexed(index, db, catalogue, unorderable):
    assert index.rebuild(db)
    assert index.index_products(unorderable)

    assert index.indexed_ids() == {p.id for p in catalogue.values()}
    assert index.search("serundeng").total == 0


def test_a_product_that_stops_being_orderable_leaves_the_index(built, db, catalogue):
    product = catalogue["Nasi Box Ikan Bakar"]
    product.status = ProductStatus.PAUSED
    db.flush()

    assert built.index_products([product])
    assert built.search("ikan").total == 0
    assert product.id not in built.indexed_ids()


def test_a_changed_listing_is_found_by_its_new_name(built, db, catalogue):
    product = catalogue["Nasi Box Ikan Bakar"]
    product.name = "Nasi Box Cakalang Fufu"
    product.description = "Nasi putih, cakalang fufu, sambal roa."
    db.flush()

    assert built.index_products([product])
    assert found(built, catalogue, "cakalang") == ["Nasi Box Ikan Bakar"]  # same product id
    assert "Nasi Box Ikan Bakar" not in found(built, catalogue, "ikan")
    assert built.search("").total == len(CORPUS)


def test_remove_takes_products_out(built, catalogue):
    kopi = catalogue["Kopi Susu Gula Aren 1 Liter"]

    assert built.remove([kopi.id])
    assert "Kopi Susu Gula Aren 1 Liter" not in found(built, catalogue, "kopi")


# Rebuild and sync --------------------------------------------------------------------------------


def test_rebuild_replaces_whatever_was_indexed(index, db, catalogue):
    stale = build_document(
        product_id=999_999,
        name="Nasi Box Ayam Hantu",
        description="",
        category_slug="nasi-box",
        category_names=("Nasi Box", "Rice Box"),
        vendor_name="Dapur Lama",
        tags=[],
        district="Tebet",
        scale="micro",
        price=10_000,
        lead_time_hours=24,
        created=0,
    )
    assert index.load_documents([stale])

    assert index.rebuild(db)

    assert index.indexed_ids() == {p.id for p in catalogue.values()}
    assert index.search("hantu").total == 0


def test_sync_repairs_a_missed_update_and_a_missed_removal(built, db, catalogue):
    renamed, paused = catalogue["Nasi Box Rendang Sapi"], catalogue["Teh Manis Dingin 1 Liter"]
    renamed.name = "Nasi Box Rendang Daging Padang"
    paused.status = ProductStatus.PAUSED
    db.flush()  # ... and the index update after the commit was lost

    assert "Teh Manis Dingin 1 Liter" in found(built, catalogue, "teh")
    assert built.sync(db)

    assert found(built, catalogue, "padang") == ["Nasi Box Rendang Sapi"]
    assert found(built, catalogue, "teh") == ["Paket Rapat Makanan dan Minuman"]
    assert built.indexed_ids() == {p.id for p in catalogue.values()} - {paused.id}


def test_sync_adds_products_whose_vendor_became_verified(built, db, catalogue):
    vendor = VendorFactory(status=VendorStatus.PENDING, trading_name="Warung Mbok Darmi")
    waiting = ProductFactory(
        vendor=vendor,
        category=catalogue["Tumpeng Mini Nasi Uduk"].category,
        name="Tumpeng Nasi Liwet",
        review_state=ReviewState.APPROVED,
        updated_at=START,  # the product itself did not change
    )
    assert built.sync(db)
    assert waiting.id not in built.indexed_ids()

    vendor.status = VendorStatus.VERIFIED
    db.flush()
    assert built.sync(db)

    assert built.search("liwet").ids == [waiting.id]


def test_sync_repairs_a_missed_rating_update(index, db, catalogue):
    for product in catalogue.values():
        product.updated_at = START  # long before the sync watermark
    db.flush()
    assert index.rebuild(db)
    rate(catalogue["Buah Potong Segar"].vendor, 1, 5)
    db.flush()  # a rating changes the vendor's row only, and the index update was lost
    assert found(index, catalogue, "", sort="rating")[0] == "Fruit Salad Cup"  # the newest

    assert index.sync(db)

    assert found(index, catalogue, "", sort="rating")[:2] == [
        "Buah Potong Segar",
        "Tumpeng Mini Nasi Uduk",
    ]


def test_the_first_sync_builds_the_index(index, db, catalogue):
    assert index.sync(db)

    assert index.indexed_ids() == {p.id for p in catalogue.values()}


# One writer at a time ----------------------------------------------------------------------------


def test_a_locked_index_makes_an_update_fail_without_raising(tmp_path, db, catalogue, caplog):
    path = tmp_path / "index"
    with CatalogIndex.open(path, lock_timeout=0.2) as catalog_index:
        other_writer = whoosh_index.open_dir(str(path)).writer()
        try:
            with caplog.at_level(logging.WARNING, logger="catalog.search"):
                started = time.monotonic()
                assert catalog_index.index_products(catalogue.values()) is False
                assert catalog_index.rebuild(db) is False
            assert time.monotonic() - started < 2
            assert "locked" in caplog.text
        finally:
            other_writer.cancel()

        assert catalog_index.sync(db)
        assert catalog_index.search("").total == len(CORPUS)


def test_an_update_waits_for_another_writer_to_finish(tmp_path, catalogue):
    path = tmp_path / "index"
    with CatalogIndex.open(path, lock_timeout=5) as catalog_index:
        other_writer = whoosh_index.open_dir(str(path)).writer()
        releaser = threading.Timer(0.3, other_writer.cancel)
        releaser.start()
        try:
            assert catalog_index.index_products(catalogue.values())
        finally:
            releaser.join()

        assert catalog_index.search("").total == len(CORPUS)


def test_a_failing_write_is_logged_not_raised(built, catalogue, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("whoosh.writing.SegmentWriter.update_document", broken)
    with caplog.at_level(logging.ERROR, logger="catalog.search"):
        assert built.index_products(catalogue.values()) is False

    assert "disk full" in caplog.text
    assert built.search("").total == len(CORPUS)


# A broken index ------------------------------------------------------------------------------


def _break(path):
    for file in path.iterdir():
        if file.is_file():
            file.write_bytes(b"\x00garbage\x00" * 16)
    (path / "_MAIN_9999.toc").write_bytes(b"half a table of contents")


def test_an_unreadable_index_says_so_and_rebuild_starts_it_afresh(built, db, catalogue, caplog):
    path = built._directory
    _break(path)

    with pytest.raises(SearchUnavailable):
        built.search("nasi")
    with pytest.raises(SearchUnavailable):
        CatalogIndex.check(path)
    assert CatalogIndex.open(path).search is not None  # opening a broken index never raises

    with caplog.at_level(logging.WARNING, logger="catalog.search"):
        assert built.rebuild(db)

    assert "started a new one" in caplog.text
    CatalogIndex.check(path)
    assert built.search("").total == len(CORPUS)
    assert len(found(built, catalogue, "rendang")) == 1


def test_segments_without_a_table_of_contents_are_not_taken_for_an_empty_index(built, db):
    path = built._directory
    for toc in path.glob("_MAIN_*.toc"):
        toc.unlink()

    with pytest.raises(SearchUnavailable):
        CatalogIndex.check(path)
    with pytest.raises(SearchUnavailable):
        CatalogIndex.open(path).search("")
    assert built.rebuild(db)
    assert built.search("").total == len(CORPUS)


def db_found(db, catalogue, text="", **filters):
    return names(catalogue, database_search(db, text, page_size=100, **filters).ids)


def test_the_database_search_needs_every_word_in_name_description_vendor_or_category(db, catalogue):
    assert sorted(db_found(db, catalogue, "ayam bakar")) == [
        "Nasi Box Ayam Bakar",
        "Nasi Box Ayam Bakar Madu",
    ]
    assert sorted(db_found(db, catalogue, "betawi tumpeng")) == ["Tumpeng Nasi Kuning Isi 20 Orang"]
    assert db_found(db, catalogue, "beverages susu") == ["Kopi Susu Gula Aren 1 Liter"]
    assert db_found(db, catalogue, "100%_") == []
    assert len(db_found(db, catalogue)) == len(CORPUS)


def test_the_database_search_applies_the_filters_and_sorts(db, catalogue):
    assert sorted(db_found(db, catalogue, category="tumpeng")) == [
        "Tumpeng Mini Nasi Uduk",
        "Tumpeng Nasi Kuning Isi 20 Orang",
    ]
    assert sorted(db_found(db, catalogue, tags=["vegan", "low_sugar"])) == [
        "Buah Potong Segar",
        "Jus Jeruk Segar 1 Liter",
    ]
    cheap = db_found(db, catalogue, price_min=0, price_max=20_000, district="Tebet")
    assert sorted(cheap) == ["Buah Potong Segar", "Snack Box Tradisional Isi 3"]
    assert sorted(db_found(db, catalogue, "nasi", scale="small", deliverable_within_hours=24)) == [
        "Nasi Box Ayam Bakar"
    ]
    prices = [catalogue[n].price for n in db_found(db, catalogue, "box", sort="price_asc")]
    assert prices == sorted(prices)
    assert db_found(db, catalogue, sort="newest")[0] == CORPUS[-1][0]


def test_the_database_search_pages_without_overlap_and_hides_unorderable_products(db, catalogue):
    catalogue["Nasi Box Rendang Sapi"].status = ProductStatus.PAUSED
    db.flush()
    pages = [database_search(db, "", page=n, page_size=6) for n in (1, 2, 3, 4)]
    seen = [i for page in pages[:3] for i in page.ids]
    assert [p.total for p in pages] == [len(CORPUS) - 1] * 4
    assert pages[0].pages == 3 and pages[3].page == 3  # past the end: the last page
    assert len(seen) == len(set(seen)) == len(CORPUS) - 1
    assert catalogue["Nasi Box Rendang Sapi"].id not in seen

"""Suggestions under the catalogue's search box: what can be ordered now, at most eight, for
words being typed, in the person's language, to signed-in people only."""

from catalog.enums import ProductStatus, VendorStatus
from catalog.search import SearchUnavailable
from tests.support import CategoryFactory, ProductFactory, VendorFactory


def suggestions(client, query):
    response = client.get("/catalog/suggest", query_string={"q": query})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()["suggestions"]


def names(client, query):
    return [item["name"] for item in suggestions(client, query)]


def test_whole_words_suggest_matching_products_with_their_category(client, db, login, world):
    tumpeng = ProductFactory(vendor=world.vendor, name="Tumpeng Nasi Kuning 20 Orang")
    login(world.requester)
    found = suggestions(client, "nasi")
    assert {item["name"] for item in found} == {
        world.product.name,
        world.other_product.name,
        tumpeng.name,
    }
    first = next(item for item in found if item["name"] == world.product.name)
    assert first["category"] == world.product.category.name_en  # the person reads English
    assert first["url"].startswith("/catalog/?q=Nasi+Box+Ayam")


def test_a_word_still_being_typed_is_completed(client, db, login, world):
    ProductFactory(vendor=world.vendor, name="Tumpeng Nasi Kuning 20 Orang")
    ProductFactory(vendor=world.vendor, name="Es Teh Manis Jumbo")
    login(world.requester)
    assert names(client, "tump") == ["Tumpeng Nasi Kuning 20 Orang"]
    assert names(client, "TUMP") == ["Tumpeng Nasi Kuning 20 Orang"]
    assert names(client, "nasi kun") == ["Tumpeng Nasi Kuning 20 Orang"]
    assert names(client, "es te") == ["Es Teh Manis Jumbo"]
    # Inside a word is not the start of one.
    assert names(client, "umpeng") == []
    # A finished word (a space after it) is not completed.
    assert names(client, "tump ") == []
    # LIKE wildcards are plain characters; punctuation or stop words alone match nothing.
    assert names(client, "%%") == [] and names(client, "__") == []
    assert names(client, "dan") == [] and names(client, "--") == []


def test_at_most_eight_and_each_name_once(client, db, login, world):
    category = CategoryFactory()
    for n in range(12):
        ProductFactory(vendor=world.vendor, category=category, name=f"Snack Box Isi {n}")
    ProductFactory(vendor=world.other_vendor, category=category, name="Snack Box Isi 0")
    login(world.requester)
    found = names(client, "snack")
    assert len(found) == 8
    assert len(set(found)) == 8


def test_only_what_can_be_ordered_now_is_suggested(client, db, login, world):
    ProductFactory(vendor=world.vendor, name="Rahasia Dapur Paused", status=ProductStatus.PAUSED)
    pending = VendorFactory(status=VendorStatus.PENDING)
    ProductFactory(vendor=pending, name="Rahasia Vendor Belum Terverifikasi")
    ProductFactory(vendor=world.vendor, name="Rahasia Dicabut", delisted_reason="izin habis")
    ProductFactory(vendor=world.vendor, name="Rahasia Terbuka")
    login(world.requester)
    assert names(client, "rahasia") == ["Rahasia Terbuka"]
    assert names(client, "rahas") == ["Rahasia Terbuka"]


def test_short_or_empty_queries_get_no_suggestions(client, db, login, world):
    login(world.requester)
    assert suggestions(client, "") == []
    assert suggestions(client, "n") == []
    assert suggestions(client, "  n  ") == []
    assert client.get("/catalog/suggest").get_json() == {"query": "", "suggestions": []}
    long = client.get("/catalog/suggest", query_string={"q": "nasi " * 100}).get_json()
    assert len(long["query"]) == 100


def test_signed_in_people_only(client, db, world):
    response = client.get("/catalog/suggest?q=nasi")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_database_answers_when_the_index_cannot_be_read(client, db, login, world, monkeypatch):
    class Unreadable:
        def search(self, *args, **kwargs):
            raise SearchUnavailable("index damaged")

    monkeypatch.setattr("marketplace.shop.views.catalog_index", lambda: Unreadable())
    ProductFactory(vendor=world.vendor, name="Tumpeng Nasi Kuning 20 Orang", description="Lauk")
    login(world.requester)
    assert set(names(client, "ayam")) == {world.product.name, world.other_product.name}
    assert names(client, "tump") == ["Tumpeng Nasi Kuning 20 Orang"]


def test_the_search_box_carries_what_its_script_needs(client, db, login, world):
    login(world.requester)
    page = client.get("/catalog/").get_data(as_text=True)
    assert 'data-url="/catalog/suggest"' in page
    assert 'role="listbox"' in page and 'id="q-suggestions"' in page
    assert '<script src="/static/js/suggest.js" nonce="' in page
    # Without the script the box is a plain search field of the same form.
    assert 'name="q" type="search"' in page

"""The catalogue's result area is kept per search-index version, query and language: a change
to a product shows at once, each viewer still gets their own header and working forms, and the
memory it takes is bounded."""

from markupsafe import escape

from catalog.enums import ProductStatus
from catalog.search import SearchUnavailable
from marketplace.search import catalog_index
from marketplace.shop.fragments import FragmentCache, SharedFragments, catalogue_fragments
from tests.support import (
    ProductFactory,
    form_token,
    log_in_through_the_form,
    statements_during,
)


def page(client, path="/catalog/"):
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_asking_again_reuses_the_rendered_results(app, client, db, login, world):
    login(world.requester)
    first = page(client, "/catalog/?q=nasi")
    again = []
    statements = statements_during(app, lambda: again.append(page(client, "/catalog/?q=nasi")))
    assert _results(again[0]) == _results(first)
    assert world.product.name in _results(first)
    # Only the signed-in person, with their roles and unread count, is read: one statement.
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1 and "FROM users" in selects[0]


def test_a_product_change_shows_on_the_next_view(client, db, login, world):
    login(world.requester)
    assert world.product.name in page(client)
    world.product.name = "Tumpeng Mini Ulang Tahun"
    db.commit()  # re-indexed after the commit: a new index version
    html = page(client)
    assert "Tumpeng Mini Ulang Tahun" in html
    world.product.price = 41_500
    db.commit()
    assert "Rp 41.500" in page(client)


def test_a_product_no_longer_orderable_leaves_the_cached_page(client, db, login, world):
    login(world.requester)
    assert world.other_product.name in page(client)
    world.other_product.status = ProductStatus.PAUSED
    db.commit()
    html = page(client)
    assert world.other_product.name not in html
    assert world.product.name in html
    added = ProductFactory(vendor=world.vendor, name="Es Buah Segar Spesial")
    db.commit()
    assert added.name in page(client)


def test_each_language_gets_its_own_page(client, db, login, world):
    login(world.requester)
    english = page(client)
    assert world.product.category.name_en in english and "Search food and drink" in english
    with client.session_transaction() as session:
        session["lang"] = "id"
    indonesian = page(client)
    assert world.product.category.name_id in indonesian
    assert "Search food and drink" not in indonesian
    with client.session_transaction() as session:
        session["lang"] = "en"
    assert world.product.category.name_en in page(client)


def test_each_query_and_page_gets_its_own_results(client, db, login, world):
    ProductFactory(
        vendor=world.vendor, name="Kopi Susu Gula Aren", description="Kopi, susu, gula aren."
    )
    db.commit()
    login(world.requester)
    coffee = page(client, "/catalog/?q=kopi")
    assert "Kopi Susu Gula Aren" in coffee and world.product.name not in coffee
    rice = page(client, "/catalog/?q=nasi")
    assert "Kopi Susu Gula Aren" not in rice and world.product.name in rice
    assert "Kopi Susu Gula Aren" in page(client, "/catalog/?q=kopi")


def test_each_viewer_gets_their_own_header_and_form_tokens(csrf_app, csrf_client, db, world):
    other = csrf_app.test_client()
    other.test_session = db
    pages = []
    for browser, user in ((csrf_client, world.requester), (other, world.vendor_owner)):
        response = log_in_through_the_form(browser, user)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        pages.append(page(browser))
    (requester_page, vendor_page) = pages
    assert world.requester.name in requester_page and world.requester.name not in vendor_page
    assert world.vendor_owner.name in vendor_page
    # The same results, a different token: each one works for its own session only.
    assert world.product.name in requester_page and world.product.name in vendor_page
    assert form_token(requester_page) != form_token(vendor_page)
    assert (
        csrf_client.post("/logout", data={"csrf_token": form_token(vendor_page)}).status_code == 400
    )
    assert (
        csrf_client.post("/logout", data={"csrf_token": form_token(requester_page)}).status_code
        == 302
    )


def test_the_unread_count_is_not_kept_with_the_results(client, db, login, world):
    from marketplace.notifications.models import Notification

    login(world.requester)
    assert 'class="counter"' not in page(client)
    db.add(Notification(user_id=world.requester.id, kind="order.approved"))
    db.commit()
    assert 'class="counter">1<' in page(client)


def test_an_unreadable_index_is_answered_from_the_database_and_not_kept(
    app, client, db, login, world, monkeypatch
):
    login(world.requester)
    page(client)
    index = catalog_index(app.config["SEARCH_INDEX_DIR"])

    def broken(*_args, **_kwargs):
        raise SearchUnavailable("test")

    monkeypatch.setattr(index, "version", broken)
    monkeypatch.setattr(index, "search", broken)
    kept = len(catalogue_fragments)
    html = page(client)
    assert "simpler mode" in html and world.product.name in html
    assert len(catalogue_fragments) == kept


def test_the_cache_is_bounded_by_entries_and_characters():
    cache = FragmentCache(size=3, characters=100)
    for n in range(5):
        cache.put(1, n, escape("x" * 10))
    assert len(cache) == 3 and cache.get(1, 0) is None and cache.get(1, 4) == "x" * 10
    cache.put(1, "big", escape("y" * 90))
    assert cache._held <= 100 and cache.get(1, "big") is not None
    cache.put(1, "huge", escape("z" * 101))  # larger than the whole cache: not kept
    assert cache.get(1, "huge") is None
    # A newer index version makes every older part useless: they are dropped at once.
    cache.put(2, "fresh", escape("new"))
    assert len(cache) == 1 and cache.get(1, "big") is None and cache.get(2, "fresh") == "new"


def test_the_shared_cache_stays_within_its_bounds(client, db, login, world):
    login(world.requester)
    for n in range(40):
        page(client, f"/catalog/?q=nasi+{n}")
    assert 0 < len(catalogue_fragments) <= catalogue_fragments.size
    assert catalogue_fragments._held <= catalogue_fragments.characters


def _results(html):
    return html[html.index("<h1>") : html.index('<script src="')]


def test_the_menu_follows_each_persons_roles_and_language(client, db, login, world):
    login(world.requester)
    requester = _menu(page(client))
    assert 'href="/cart"' in requester and "My business" not in requester
    login(world.vendor_owner)
    vendor = _menu(page(client, "/vendor/"))
    assert "My business" in vendor and 'href="/cart"' not in vendor
    login(world.curator)
    curator = _menu(page(client, "/"))
    assert "Listings" in curator and "My business" not in curator
    with client.session_transaction() as session:
        session["lang"] = "id"
    assert _menu(page(client, "/")) != curator
    with client.session_transaction() as session:
        session["lang"] = "en"
    assert _menu(page(client, "/")) == curator
    # A role given later shows in the menu on the next page.
    login(world.requester)
    assert "My business" not in _menu(page(client))
    from marketplace.accounts.models import Membership, Role

    db.add(
        Membership(user_id=world.requester.id, role=Role.VENDOR_STAFF, vendor_id=world.vendor.id)
    )
    db.commit()
    assert "My business" in _menu(page(client))


def _menu(html):
    return html[html.index('<nav class="main-nav"') : html.index('<div class="account">')]


def test_filter_links_are_those_url_for_builds(app):
    from flask import url_for

    from marketplace.shop.views import catalogue_url

    params = {
        "q": "nasi kotak & es teh/jeruk 100%",
        "category": "nasi-kotak",
        "tags": ["halal", "vegetarian"],
        "price": "",
        "district": "Tebet, Jakarta",
        "scale": "",
        "within": None,
        "sort": "relevance",
        "page": 3,
    }
    changes = [
        {},
        {"page": 2},
        {"page": 4, "q": "kopi"},
        {"tags": []},
        {"tags": ["halal"]},
        {"category": "", "district": ""},
        {"within": 24, "price": "0-24999"},
        {"category": "", "tags": [], "price": "", "district": "", "scale": "", "within": None},
    ]
    with app.test_request_context("/catalog/"):
        for change in changes:
            merged = {**params, "page": 1, **change}
            expected = url_for(
                "shop.index",
                **{
                    ("tag" if key == "tags" else key): value
                    for key, value in merged.items()
                    if value not in ("", None, [], 1) or (key == "page" and value != 1)
                },
            )
            assert catalogue_url(params, **change) == expected
            assert catalogue_url(params, "/catalog/", **change) == expected


def test_workers_share_what_they_rendered(app, client, db, login, world):
    login(world.requester)
    first = _results(page(client, "/catalog/?q=nasi"))
    catalogue_fragments.clear()  # as another worker, which has not rendered this page yet
    statements = statements_during(app, lambda: page(client, "/catalog/?q=nasi"))
    assert not [s for s in statements if "FROM products" in s]
    catalogue_fragments.clear()
    assert _results(page(client, "/catalog/?q=nasi")) == first
    # A change makes a new version, which the other worker renders afresh.
    world.product.name = "Nasi Liwet Komplit"
    db.commit()
    catalogue_fragments.clear()
    assert "Nasi Liwet Komplit" in page(client, "/catalog/?q=nasi")


def test_the_shared_store_keeps_one_version_and_bounds_its_writes(tmp_path, monkeypatch):
    from marketplace.shop import fragments

    one, other = SharedFragments(tmp_path), SharedFragments(tmp_path)
    one.put("7-aaa", ("en", "", "q=nasi"), escape("<b>nasi</b>"))
    assert other.get("7-aaa", ("en", "", "q=nasi")) == "&lt;b&gt;nasi&lt;/b&gt;"
    assert other.get("7-aaa", ("id", "", "q=nasi")) is None
    assert other.get("8-bbb", ("en", "", "q=nasi")) is None
    other.put("8-bbb", ("en", "", "q=kopi"), escape("kopi"))
    assert [d.name for d in tmp_path.iterdir()] == ["8-bbb"]  # the older version is gone
    monkeypatch.setattr(fragments, "SHARED_FRAGMENTS_KEPT", 3)
    for n in range(10):
        one.put("9-ccc", n, escape(str(n)))
    assert len(list((tmp_path / "9-ccc").iterdir())) == 3


def test_restarted_workers_do_not_grow_the_shared_store(tmp_path, monkeypatch):
    from marketplace.shop import fragments

    monkeypatch.setattr(fragments, "SHARED_FRAGMENTS_KEPT", 4)
    for worker in range(3):  # each a fresh process serving the same index version
        store = SharedFragments(tmp_path)
        for n in range(10):
            store.put("9-ccc", (worker, n), escape(str(n)))
    assert len(list((tmp_path / "9-ccc").iterdir())) == 4


def test_parts_rendered_by_other_code_are_not_served(tmp_path):
    old, new = SharedFragments(tmp_path, "build1"), SharedFragments(tmp_path, "build2")
    old.put("7-aaa", ("en", "", "q=nasi"), escape("old template"))
    assert new.get("7-aaa", ("en", "", "q=nasi")) is None
    new.put("7-aaa", ("en", "", "q=nasi"), escape("new template"))
    assert new.get("7-aaa", ("en", "", "q=nasi")) == "new template"
    assert [d.name for d in tmp_path.iterdir()] == ["build2-7-aaa"]


def test_the_code_fingerprint_changes_when_a_template_does(tmp_path):
    from marketplace.shop.fragments import code_fingerprint

    template = tmp_path / "shop" / "_catalogue.html"
    template.parent.mkdir()
    template.write_text("<p>one</p>")
    before = code_fingerprint(tmp_path)
    assert code_fingerprint(tmp_path) == before
    template.write_text("<p>one, changed</p>")
    assert code_fingerprint(tmp_path) != before

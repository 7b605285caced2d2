"""The catalogue's layout (header, menu, footer) is rendered once per person and kept: a page
joined from it is the page rendered in full, with this request's token, nonce and return path."""

import re

import pytest
from flask import render_template

from marketplace.layouts import Layouts, _split, layouts
from marketplace.notifications.models import Notification


@pytest.fixture(autouse=True)
def _no_kept_layouts():
    layouts.clear()
    yield
    layouts.clear()


def page(client, path="/catalog/"):
    response = client.get(path)
    assert response.status_code == 200
    return response


def _without_request_values(html):
    html = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)
    return re.sub(r'nonce="[^"]+"', 'nonce=""', html)


def test_a_page_from_the_kept_layout_is_the_page_rendered_in_full(
    app, client, db, login, world, monkeypatch
):
    login(world.requester)
    path = "/catalog/?q=nasi&sort=price"
    page(client, "/catalog/?q=x")  # shows the log-in's flashed message: rendered in full
    assert len(layouts) == 0
    page(client, path)  # renders and keeps the layout
    assert len(layouts) == 1
    kept = page(client, path).get_data(as_text=True)
    monkeypatch.setattr(
        "marketplace.shop.views.render_in_kept_layout",
        lambda template, content: render_template(template, content=content),
    )
    full = page(client, path).get_data(as_text=True)
    assert _without_request_values(kept) == _without_request_values(full)
    assert world.product.name in kept and world.requester.name in kept


def test_each_request_gets_its_own_nonce_token_and_return_path(app, client, db, login, world):
    login(world.requester)
    first = page(client, "/catalog/?q=nasi")
    second = page(client, "/catalog/?q=ayam&sort=price")
    nonces = []
    for response in (first, second):
        html = response.get_data(as_text=True)
        header_nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
        page_nonces = set(re.findall(r'nonce="([^"]+)"', html))
        # Every script on the page runs under this response's policy.
        assert page_nonces == {header_nonce.group(1)}
        nonces.append(header_nonce.group(1))
    assert nonces[0] != nonces[1]
    html = second.get_data(as_text=True)
    # The language switch brings the person back to this page, escaped as an attribute.
    assert 'name="next" value="/catalog/?q=ayam&amp;sort=price"' in html
    assert "\x00" not in html


def test_a_persons_name_is_escaped_in_the_kept_layout(client, db, login, world):
    world.requester.name = '<img src=x onerror="alert(1)"> Siti'
    db.commit()
    login(world.requester)
    for _ in range(2):
        html = page(client).get_data(as_text=True)
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; Siti" in html
        assert "<img src=x" not in html


def test_flashed_messages_are_shown_once(app, client, db, login, world):
    login(world.requester)
    page(client)
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Keranjang diperbarui.")]
    assert "Keranjang diperbarui." in page(client).get_data(as_text=True)
    assert "Keranjang diperbarui." not in page(client).get_data(as_text=True)


def test_the_header_follows_the_unread_count_and_the_language(client, db, login, world):
    login(world.requester)
    assert 'class="counter"' not in page(client).get_data(as_text=True)
    db.add(Notification(user_id=world.requester.id, kind="order.approved"))
    db.commit()
    assert 'class="counter">1<' in page(client).get_data(as_text=True)
    with client.session_transaction() as session:
        session["lang"] = "id"
    html = page(client).get_data(as_text=True)
    assert '<html lang="id">' in html and "Keluar" in html


def test_kept_layouts_are_bounded():
    kept = Layouts(size=2)
    for n in range(5):
        kept.put(n, ("<p>", "content", "</p>"))
    assert len(kept) == 2 and kept.get(0) is None and kept.get(4) is not None


def test_a_layout_is_cut_at_its_slots():
    assert _split("a\x00layout-slot:csrf\x00b\x00layout-slot:content\x00") == (
        "a",
        "csrf",
        "b",
        "content",
        "",
    )
    with pytest.raises(ValueError, match="unknown layout slot"):
        _split("a\x00layout-slot:nope\x00b")

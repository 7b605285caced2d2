"""The catalogue's layout (header, menu, footer) is rendered once per person and kept: a page
joined from it is the page rendered in full, with this request's token, nonce and return path."""

import re

import pytest
from flask import render_template

from marketplace.accounts.models import Membership, Role
from marketplace.layouts import _MARKER, Layouts, _split, layouts
from marketplace.notifications.models import Notification
from tests.support import form_token, log_in_through_the_form


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


def signed_in(login, client, user):
    """Logged in, with the log-in's flashed message shown (that page is rendered in full)."""
    login(user)
    page(client, "/catalog/?q=welcome")


def test_a_kept_layout_gets_each_requests_nonce_token_and_return_path(
    csrf_app, csrf_client, db, world
):
    assert log_in_through_the_form(csrf_client, world.requester).status_code == 302
    page(csrf_client, "/catalog/?q=welcome")  # the flashed message
    page(csrf_client, "/catalog/?q=nasi")  # renders and keeps the layout
    kept = len(layouts)
    responses = [page(csrf_client, "/catalog/?q=ayam&sort=price") for _ in range(2)]
    assert len(layouts) == kept  # both joined from the kept layout
    nonces = []
    for response in responses:
        html = response.get_data(as_text=True)
        header_nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
        # Every script on the page runs under this response's policy.
        assert set(re.findall(r'nonce="([^"]+)"', html)) == {header_nonce.group(1)}
        nonces.append(header_nonce.group(1))
        # The language switch brings the person back to this page, escaped as an attribute.
        assert 'name="next" value="/catalog/?q=ayam&amp;sort=price"' in html
        assert "\x00" not in html
    assert nonces[0] != nonces[1]
    # The token in the kept layout is this session's: the log-out form it sits in works.
    html = responses[1].get_data(as_text=True)
    assert csrf_client.post("/logout", data={"csrf_token": form_token(html)}).status_code == 302


def test_a_persons_name_is_escaped_in_the_kept_layout(client, db, login, world):
    world.requester.name = '<img src=x onerror="alert(1)"> Siti'
    db.commit()
    signed_in(login, client, world.requester)
    for _ in range(2):  # rendered and kept, then joined from it
        html = page(client).get_data(as_text=True)
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; Siti" in html
        assert "<img src=x" not in html
    assert len(layouts) == 1


def test_flashed_messages_are_shown_once(app, client, db, login, world):
    signed_in(login, client, world.requester)
    page(client)
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Keranjang diperbarui.")]
    assert "Keranjang diperbarui." in page(client).get_data(as_text=True)
    assert "Keranjang diperbarui." not in page(client).get_data(as_text=True)


def test_the_header_follows_the_unread_count_roles_and_language(client, db, login, world):
    signed_in(login, client, world.requester)
    html = page(client).get_data(as_text=True)  # kept with no unread notification
    assert 'class="counter"' not in html
    db.add(Notification(user_id=world.requester.id, kind="order.approved"))
    db.commit()
    assert 'class="counter">1<' in page(client).get_data(as_text=True)
    # A role more: the menu shows what it allows.
    assert "/approvals" not in html
    db.add(Membership(user_id=world.requester.id, role=Role.APPROVER, agency_id=world.agency.id))
    db.commit()
    assert "/approvals" in page(client).get_data(as_text=True)
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
    assert _split("a" + _MARKER.format("csrf") + "b" + _MARKER.format("content")) == (
        "a",
        "csrf",
        "b",
        "content",
        "",
    )
    with pytest.raises(ValueError, match="unknown layout slot"):
        _split("a" + _MARKER.format("nope") + "b")

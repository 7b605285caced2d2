"""The cart's answers to its page script: the same forms and checks as without JavaScript, with
the cart's new figures (or the refusal and its reason) as JSON instead of a redirect."""

import re

from sqlalchemy import select

from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order, OrderLine
from marketplace.ordering.states import OrderStatus
from tests.support import ProductFactory, form_token, log_in_through_the_form

JSON = {"Accept": "application/json"}


def cart_line(db, world, product=None, quantity=12):
    ordering.add_to_cart(db, world.requester, product or world.product, quantity)
    db.flush()
    return db.scalar(select(OrderLine).where(OrderLine.product_id == (product or world.product).id))


def test_changing_a_quantity_answers_the_new_figures(client, db, login, world):
    line = cart_line(db, world)
    second = ProductFactory(vendor=world.other_vendor, price=10_000)
    other_line = cart_line(db, world, second, 3)
    login(world.requester)
    response = client.post(f"/cart/lines/{line.id}", data={"quantity": 20}, headers=JSON)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["ok"] is True
    assert answer["line_id"] == line.id
    assert f"{world.product.name}: quantity 20." == answer["message"]
    lines = {item["id"]: item for item in answer["lines"]}
    assert lines[line.id] == {
        "id": line.id,
        "quantity": 20,
        "total": 700_000,
        "total_text": "Rp 700.000",
    }
    assert lines[other_line.id]["total"] == 30_000
    subtotals = {item["order_id"]: item["subtotal"] for item in answer["orders"]}
    assert subtotals == {line.order_id: 700_000, other_line.order_id: 30_000}
    assert answer["total"] == 730_000 and answer["total_text"] == "Rp 730.000"
    assert answer["count"] == 2
    assert set(answer["order_ids"].split(",")) == {str(line.order_id), str(other_line.order_id)}
    db.expire_all()
    assert db.get(OrderLine, line.id).quantity == 20
    # The page, reloaded, shows what the answer said.
    page = client.get("/cart").get_data(as_text=True)
    assert "Rp 700.000" in page and "Rp 730.000" in page


def test_zero_removes_the_line_and_its_emptied_vendor_order(client, db, login, world):
    line = cart_line(db, world)
    line_id, order_id = line.id, line.order_id
    login(world.requester)
    response = client.post(f"/cart/lines/{line_id}", data={"quantity": 0}, headers=JSON)
    answer = response.get_json()
    assert response.status_code == 200
    assert answer["message"] == f"{world.product.name} was removed from your cart."
    assert answer["lines"] == [] and answer["orders"] == []
    assert answer["count"] == 0 and answer["total"] == 0 and answer["order_ids"] == ""
    db.expire_all()
    assert db.get(OrderLine, line_id) is None
    assert db.get(Order, order_id) is None


def test_a_quantity_the_server_refuses_comes_back_with_its_reason(client, db, login, world):
    line = cart_line(db, world)
    login(world.requester)
    for quantity, reason in (
        ("-1", "Enter a quantity from 0 to 100000."),
        ("100001", "Enter a quantity from 0 to 100000."),
        ("", "Enter a quantity."),
        ("lots", "Not a valid integer value."),
    ):
        response = client.post(f"/cart/lines/{line.id}", data={"quantity": quantity}, headers=JSON)
        assert response.status_code == 400, quantity
        assert response.get_json() == {"ok": False, "message": reason, "line_id": line.id}
    db.expire_all()
    assert db.get(OrderLine, line.id).quantity == 12


def test_someone_elses_line_is_refused_as_not_found_and_unchanged(client, db, login, world):
    line = cart_line(db, world)
    login(world.other_requester)
    response = client.post(f"/cart/lines/{line.id}", data={"quantity": 1}, headers=JSON)
    assert response.status_code == 404
    answer = response.get_json()
    assert answer == {
        "ok": False,
        "message": "That item is no longer in your cart.",
        "line_id": line.id,
    }
    db.expire_all()
    assert db.get(OrderLine, line.id).quantity == 12


def test_a_submitted_order_is_no_longer_changed_through_the_cart(client, db, login, world):
    order = world.order_in(db, "submitted")
    line = order.lines[0]
    quantity = line.quantity
    login(world.requester)
    response = client.post(f"/cart/lines/{line.id}", data={"quantity": 1}, headers=JSON)
    assert response.status_code == 404
    db.expire_all()
    assert db.get(OrderLine, line.id).quantity == quantity
    assert db.get(Order, order.id).status is OrderStatus.SUBMITTED


def test_without_the_json_header_the_form_still_redirects(client, db, login, world):
    line = cart_line(db, world)
    login(world.requester)
    response = client.post(
        f"/cart/lines/{line.id}", data={"quantity": 5}, headers={"Accept": "text/html,*/*"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/cart")
    assert "Your cart was updated." in client.get("/cart").get_data(as_text=True)
    refused = client.post(f"/cart/lines/{line.id}", data={"quantity": -3})
    assert refused.status_code == 302
    assert "Enter a quantity from 0 to 100000." in client.get("/cart").get_data(as_text=True)
    db.expire_all()
    assert db.get(OrderLine, line.id).quantity == 5


def test_adding_to_the_cart_can_answer_json(client, db, login, world):
    login(world.requester)
    response = client.post(f"/cart/add/{world.product.id}", data={"quantity": 2}, headers=JSON)
    answer = response.get_json()
    assert response.status_code == 200
    assert answer["message"] == f"{world.product.name} was added to your cart."
    assert answer["count"] == 1 and answer["total"] == 70_000
    refused = client.post(f"/cart/add/{world.product.id}", data={"quantity": 0}, headers=JSON)
    assert refused.status_code == 400
    assert refused.get_json()["message"] == "Enter a quantity from 1 to 100000."
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 99_998}, headers=JSON)
    too_many = client.post(f"/cart/add/{world.product.id}", data={"quantity": 1}, headers=JSON)
    assert too_many.status_code == 400
    assert too_many.get_json()["message"] == "The quantity is too large."
    assert db.scalar(select(OrderLine.quantity)) == 100_000


def test_the_form_token_is_still_required(csrf_client, db, world):
    line = cart_line(db, world)
    log_in_through_the_form(csrf_client, world.requester)
    refused = csrf_client.post(f"/cart/lines/{line.id}", data={"quantity": 3}, headers=JSON)
    assert refused.status_code == 400
    db.expire_all()
    assert db.get(OrderLine, line.id).quantity == 12
    page = csrf_client.get("/cart").get_data(as_text=True)
    response = csrf_client.post(
        f"/cart/lines/{line.id}",
        data={"quantity": 3, "csrf_token": form_token(page)},
        headers=JSON,
    )
    assert response.status_code == 200 and response.get_json()["ok"] is True
    db.expire_all()
    assert db.get(OrderLine, line.id).quantity == 3


def test_the_cart_page_carries_what_its_script_needs(client, db, login, world):
    line = cart_line(db, world)
    login(world.requester)
    page = client.get("/cart").get_data(as_text=True)
    assert f'data-line="{line.id}"' in page
    assert f'data-order="{line.order_id}"' in page
    assert 'aria-live="polite"' in page
    assert f'id="qty-{line.id}-error" role="alert" hidden' in page
    assert re.search(r'<script src="/static/js/cart.js" nonce="[^"]+" defer>', page)
    # Removing works as a plain form too.
    assert 'name="quantity" value="0"' in page

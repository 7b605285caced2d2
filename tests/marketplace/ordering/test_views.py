"""The buying pages: cart, checkout, approval queue, order page, with bad input refused."""

from sqlalchemy import func, select

from marketplace.budgets.models import BudgetEntry
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from tests.support import delivery_in


def checkout_form(world, cart_ids, days=3, **overrides):
    delivery_date, delivery_time = delivery_in(days)
    data = {
        "order_ids": ",".join(str(i) for i in cart_ids),
        "budget_line_id": world.line.id,
        "activity_name": "Rapat koordinasi",
        "delivery_date": delivery_date.isoformat(),
        "delivery_time": delivery_time.strftime("%H:%M"),
        "delivery_address": "Jl. Kebon Sirih No. 22",
        "headcount": "30",
        "delivery_district": "menteng",
        "recipient_name": "Joko Susilo",
        "recipient_phone": "0812-1111-2222",
    }
    data.update(overrides)
    return data


def cart_ids(db, world):
    return list(
        db.scalars(
            select(Order.id).where(
                Order.status == OrderStatus.CART, Order.requester_id == world.requester.id
            )
        )
    )


def test_requester_orders_through_the_pages(client, db, login, world):
    db.commit()
    login(world.requester)
    catalogue = client.get("/catalog/?q=ayam").get_data(as_text=True)
    assert world.product.name in catalogue
    response = client.post(f"/cart/add/{world.product.id}", data={"quantity": 10})
    assert response.status_code == 302
    cart = client.get("/cart").get_data(as_text=True)
    assert "Rp 350.000" in cart
    response = client.post("/cart", data=checkout_form(world, cart_ids(db, world)))
    assert response.status_code == 302
    order = db.scalar(select(Order))
    assert order.status is OrderStatus.SUBMITTED
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert order.number in page
    db.refresh(world.line)
    assert world.line.committed == 350_000


def test_double_submit_creates_one_order_and_one_commitment(client, db, login, world):
    db.commit()
    login(world.requester)
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 10})
    form = checkout_form(world, cart_ids(db, world))
    first = client.post("/cart", data=form)
    second = client.post("/cart", data=form)
    assert first.status_code == 302
    assert second.status_code == 302
    assert "already been submitted" in client.get(second.headers["Location"]).get_data(as_text=True)
    assert (
        db.scalar(
            select(func.count()).select_from(BudgetEntry).where(BudgetEntry.order_id.isnot(None))
        )
        == 1
    )


def test_past_date_is_shown_on_the_form_and_nothing_is_submitted(client, db, login, world):
    db.commit()
    login(world.requester)
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 10})
    response = client.post("/cart", data=checkout_form(world, cart_ids(db, world), days=-2))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "must be in the future" in body
    assert "Rapat koordinasi" in body  # what was typed is kept
    assert db.scalar(select(Order.status)) is OrderStatus.CART
    db.refresh(world.line)
    assert world.line.committed == 0


def test_over_budget_is_shown_and_nothing_is_committed(client, db, login, world):
    db.commit()
    login(world.requester)
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 500})  # Rp 17.500.000
    response = client.post("/cart", data=checkout_form(world, cart_ids(db, world)))
    assert response.status_code == 400
    assert "Not enough budget" in response.get_data(as_text=True)
    assert db.scalar(select(Order.status)) is OrderStatus.CART
    assert (
        db.scalar(
            select(func.count()).select_from(BudgetEntry).where(BudgetEntry.order_id.isnot(None))
        )
        == 0
    )


def test_foreign_budget_line_is_refused(client, db, login, world):
    db.commit()
    login(world.requester)
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 1})
    response = client.post(
        "/cart", data=checkout_form(world, cart_ids(db, world), budget_line_id=world.other_line.id)
    )
    assert response.status_code == 400
    db.refresh(world.other_line)
    assert world.other_line.committed == 0


def test_cart_quantity_update_and_removal(client, db, login, world):
    db.commit()
    login(world.requester)
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 2})
    line_id = db.scalar(select(Order)).lines[0].id
    client.post(f"/cart/lines/{line_id}", data={"quantity": 5})
    assert "Rp 175.000" in client.get("/cart").get_data(as_text=True)
    client.post(f"/cart/lines/{line_id}", data={"quantity": -1})
    assert db.scalar(select(Order)).lines[0].quantity == 5
    client.post(f"/cart/lines/{line_id}", data={"quantity": 0})
    assert db.scalar(select(func.count()).select_from(Order)) == 0


def test_approval_queue_shows_exactly_what_waits(client, db, login, world):
    from marketplace.ordering import services as ordering
    from tests.support import details_for

    mine = world.order_in(db, "submitted")
    ordering.add_to_cart(db, world.other_requester, world.product, 4)
    [foreign] = ordering.checkout(
        db,
        world.other_requester,
        [o.id for o in ordering.cart_orders(db, world.other_requester)],
        details_for(world.other_line),
        world.rules,
    )
    db.commit()
    login(world.approver)
    page = client.get("/approvals").get_data(as_text=True)
    assert mine.number in page
    assert "Rp 350.000" in page
    assert foreign.number not in page
    client.post(f"/orders/{mine.id}/approve")
    client.get("/approvals")  # shows the confirmation once
    assert mine.number not in client.get("/approvals").get_data(as_text=True)


def test_reject_needs_a_reason(client, db, login, world):
    order = world.order_in(db, "submitted")
    db.commit()
    login(world.approver)
    client.post(f"/orders/{order.id}/reject", data={"reason": "  "})
    db.refresh(order)
    assert order.status is OrderStatus.SUBMITTED


def test_second_click_on_approve_is_a_conflict(client, db, login, world):
    order = world.order_in(db, "submitted")
    db.commit()
    login(world.approver)
    assert client.post(f"/orders/{order.id}/approve").status_code == 302
    response = client.post(f"/orders/{order.id}/approve")
    assert response.status_code == 409


def test_receipt_form_refuses_bad_quantities(client, db, login, world):
    order = world.order_in(db, "delivered")
    line = order.lines[0]
    db.commit()
    login(world.approver)
    for bad in ("11", "-1", "ten", ""):
        response = client.post(f"/orders/{order.id}/receive", data={f"received-{line.id}": bad})
        assert response.status_code == 400
    db.refresh(order)
    assert order.status is OrderStatus.DELIVERED
    response = client.post(
        f"/orders/{order.id}/receive",
        data={f"received-{line.id}": "8", f"remark-{line.id}": "2 kurang"},
    )
    assert response.status_code == 302
    db.refresh(order)
    assert order.received_total == 8 * 35_000


def test_order_page_shows_history_in_the_users_language(client, db, login, world):
    order = world.order_in(db, "received")
    db.commit()
    login(world.auditor)
    client.post("/language", data={"lang": "en"})
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    for words in ("Submit", "Approve", "Accept", "Mark delivered", "Confirm receipt"):
        assert words in page
    assert "Rp 350.000" in page


def test_repeat_a_past_order_in_one_click(client, db, login, world):
    past = world.order_in(db, "received", quantity=12)
    world.product.price = 36_000
    db.commit()
    login(world.requester)
    response = client.post(f"/orders/{past.id}/repeat")
    assert response.status_code == 302
    [cart] = db.scalars(select(Order).where(Order.status == OrderStatus.CART)).all()
    assert cart.lines[0].quantity == 12
    assert "Rp 432.000" in client.get("/cart").get_data(as_text=True)
    login(world.other_requester)
    assert client.post(f"/orders/{past.id}/repeat").status_code == 404


def test_approver_returns_and_requester_changes_through_the_pages(client, db, login, world):
    order = world.order_in(db, "submitted", quantity=10)
    line_id = order.lines[0].id
    db.commit()
    login(world.approver)
    assert client.post(f"/orders/{order.id}/return", data={"reason": "Kurangi"}).status_code == 302
    login(world.requester)
    page = client.get(f"/orders/{order.id}/change").get_data(as_text=True)
    assert "Kurangi" in page
    bad = client.post(
        f"/orders/{order.id}/change",
        data={
            f"quantity-{line_id}": "lots",
            "delivery_date": order.delivery_date.isoformat(),
            "delivery_time": "11:30",
        },
    )
    assert bad.status_code == 400
    good = client.post(
        f"/orders/{order.id}/change",
        data={
            f"quantity-{line_id}": "8",
            "delivery_date": order.delivery_date.isoformat(),
            "delivery_time": "11:30",
        },
    )
    assert good.status_code == 302
    db.refresh(order)
    assert (order.status, order.total) == (OrderStatus.SUBMITTED, 280_000)


def test_saved_addresses_are_offered_and_used(client, db, login, world):
    db.commit()
    login(world.requester)
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 2})
    client.post(
        "/cart",
        data=checkout_form(
            world, cart_ids(db, world), save_address_as="Aula Lt. 3", delivery_until="12:30"
        ),
    )
    order = db.scalar(select(Order).where(Order.status == OrderStatus.SUBMITTED))
    assert (order.recipient_name, order.delivery_until.strftime("%H:%M")) == (
        "Joko Susilo",
        "12:30",
    )
    client.post(f"/cart/add/{world.product.id}", data={"quantity": 2})
    page = client.get("/cart").get_data(as_text=True)
    assert "Aula Lt. 3" in page
    from marketplace.accounts.models import AgencyAddress

    saved = db.scalar(select(AgencyAddress))
    response = client.post(
        "/cart",
        data=checkout_form(
            world,
            cart_ids(db, world),
            saved_address_id=saved.id,
            delivery_address="",
            delivery_district="ignored",
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    newest = db.scalars(select(Order).order_by(Order.id.desc())).first()
    assert newest.delivery_address == saved.address
    assert newest.delivery_district == "Menteng"

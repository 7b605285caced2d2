"""The API checks what the pages check: tenants, roles and separation of duties."""

from __future__ import annotations

from marketplace.accounts.models import Role
from marketplace.ordering.states import OrderStatus
from tests.support import pay_by_transfer, user_with_roles


def test_another_agencys_order_is_not_there(api, world, db):
    order = world.order_in(db, "submitted")
    outsider = api(world.other_requester)
    assert outsider.get(f"/orders/{order.id}").status_code == 404
    assert outsider.get("/orders").get_json()["total"] == 0
    response = api(world.other_approver).post(f"/orders/{order.id}/actions/approve")
    assert response.status_code == 404
    db.refresh(order)
    assert order.status is OrderStatus.SUBMITTED


def test_a_vendor_sees_only_its_own_orders(api, world, db):
    order = world.order_in(db, "approved")
    assert api(world.vendor_owner).get(f"/orders/{order.id}").status_code == 200
    assert api(world.other_vendor_owner).get(f"/orders/{order.id}").status_code == 404


def test_nobody_approves_an_order_they_placed(api, world, db):
    both = user_with_roles(db, Role.REQUESTER, Role.APPROVER, agency=world.agency)
    client = api(both)
    created = client.post(
        "/orders",
        json={
            "budget_line_id": world.line.id,
            "activity_name": "Rapat evaluasi",
            "delivery_date": _in_days(3),
            "delivery_time": "11:30",
            "delivery_address": "Jl. Kebon Sirih No. 22",
            "delivery_district": "Menteng",
            "recipient_phone": "0812-1111-2222",
            "lines": [{"product_id": world.product.id, "quantity": 10}],
        },
    )
    assert created.status_code == 201, created.get_json()
    [order] = created.get_json()["data"]
    assert "approve" not in order["available_actions"]

    response = client.post(f"/orders/{order['id']}/actions/approve")
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"] == "You are not allowed to do this to this order."


def test_the_requester_cannot_approve_and_the_vendor_cannot_receive(api, world, db):
    submitted = world.order_in(db, "submitted")
    assert api(world.requester).post(f"/orders/{submitted.id}/actions/approve").status_code == 403
    delivered = world.order_in(db, "delivered")
    lines = [{"line_id": line.id, "quantity_received": line.quantity} for line in delivered.lines]
    response = api(world.vendor_owner).post(
        f"/orders/{delivered.id}/actions/receive", json={"lines": lines}
    )
    assert response.status_code == 403
    db.refresh(delivered)
    assert delivered.status is OrderStatus.DELIVERED


def test_a_vendor_cannot_read_budget_lines(api, world):
    vendor = api(world.vendor_owner)
    assert vendor.get("/budget-lines").status_code == 403
    assert vendor.get(f"/budget-lines/{world.line.id}").status_code == 403
    assert vendor.get(f"/budget-lines/{world.line.id}/ledger").status_code == 403


def test_budget_lines_of_another_agency_are_not_there(api, world):
    approver = api(world.approver)
    listed = approver.get("/budget-lines").get_json()
    assert [line["id"] for line in listed["data"]] == [world.line.id]
    assert approver.get(f"/budget-lines/{world.other_line.id}").status_code == 404
    assert approver.get(f"/budget-lines/{world.other_line.id}/ledger").status_code == 404
    finance = api(world.finance).get("/budget-lines").get_json()
    assert {line["id"] for line in finance["data"]} == {world.line.id, world.other_line.id}


def _paid_order_of_other_agency(world, db):  # type: ignore[no-untyped-def]
    from marketplace.delivery import services as delivery
    from marketplace.ordering import services as ordering
    from tests.support import details_for

    other_treasurer = user_with_roles(db, Role.TREASURER, agency=world.other_agency)
    ordering.add_to_cart(db, world.other_requester, world.other_product, 5)
    cart = ordering.cart_orders(db, world.other_requester)
    [order] = ordering.checkout(
        db, world.other_requester, [o.id for o in cart], details_for(world.other_line), world.rules
    )
    other_vendor_owner = world.other_vendor_owner
    ordering.approve_order(db, world.other_approver, order)
    ordering.accept_order(db, other_vendor_owner, order)
    delivery.deliver_order(db, other_vendor_owner, order)
    delivery.receive_order(
        db,
        world.other_approver,
        order,
        [delivery.LineReceipt(line.id, line.quantity) for line in order.lines],
    )
    return pay_by_transfer(db, other_treasurer, order)


def test_a_treasurer_sees_only_their_agencys_payments(api, world, db):
    own = world.order_in(db, "paid")
    other_payment = _paid_order_of_other_agency(world, db)

    treasurer = api(world.treasurer)
    listed = treasurer.get("/payments").get_json()
    assert listed["total"] == 1
    [payment] = listed["data"]
    assert payment["agency"]["id"] == world.agency.id
    assert payment["allocations"] == [{"order_id": own.id, "amount": payment["amount"]}]
    assert treasurer.get(f"/payments/{payment['id']}").status_code == 200
    assert treasurer.get(f"/payments/{other_payment.id}").status_code == 404
    assert treasurer.get(f"/payments?order_id={other_payment.order_ids[0]}").status_code == 404

    assert api(world.vendor_owner).get("/payments").get_json()["total"] == 1
    assert api(world.other_vendor_owner).get("/payments").get_json()["total"] == 1
    assert api(world.finance).get("/payments").get_json()["total"] == 2
    assert api(world.auditor).get(f"/payments/{other_payment.id}").status_code == 200


def _in_days(days: int) -> str:
    from tests.support import delivery_in

    return delivery_in(days)[0].isoformat()

"""Placing orders and taking them through their lifecycle over the API, with the same rules
and the same money movements as on the pages."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.budgets.models import BudgetEntry, EntryKind
from marketplace.documents.models import DocumentKind, IssuedDocument
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from tests.support import delivery_in


def new_order(world, quantity: int = 10, **overrides):  # type: ignore[no-untyped-def]
    body = {
        "budget_line_id": world.line.id,
        "activity_name": "Rapat koordinasi kesiapsiagaan banjir",
        "delivery_date": delivery_in(3)[0].isoformat(),
        "delivery_time": "11:30",
        "delivery_until": "12:30",
        "delivery_address": "Jl. Kebon Sirih No. 22",
        "delivery_district": "Menteng",
        "headcount": 30,
        "recipient_phone": "0812-1111-2222",
        "lines": [{"product_id": world.product.id, "quantity": quantity}],
    }
    body.update(overrides)
    return body


def ledger_rows(db, line):  # type: ignore[no-untyped-def]
    return [
        (entry.kind, entry.amount)
        for entry in db.scalars(
            select(BudgetEntry)
            .where(BudgetEntry.budget_line_id == line.id)
            .order_by(BudgetEntry.id)
        )
    ]


def test_placing_an_order_commits_its_total_on_the_budget_line(api, world, db):
    response = api(world.requester).post("/orders", json=new_order(world, quantity=10))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    [order] = created["data"]
    assert response.headers["Location"] == f"/api/v1/orders/{order['id']}"
    assert order["status"] == "submitted"
    assert order["total"] == 350_000 and order["currency"] == "IDR"
    assert order["recipient_name"] == world.requester.name  # the default
    assert order["delivery_until"] == "12:30"
    assert order["request_number"] == created["request_number"]
    assert set(order["available_actions"]) == {"cancel", "resubmit"}

    assert ledger_rows(db, world.line)[-1] == (EntryKind.COMMIT, 350_000)
    db.refresh(world.line)
    assert world.line.committed == 350_000
    assert ordering.cart_orders(db, world.requester) == []


def test_an_order_over_the_budget_is_refused_and_nothing_is_committed(api, world, db):
    before = ledger_rows(db, world.line)
    response = api(world.requester).post("/orders", json=new_order(world, quantity=200))
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "urn:e-order:problem:insufficient-budget"
    assert problem["detail"] == f"Not enough budget left on {world.line.account_code}."
    assert problem["instance"] == "/api/v1/orders"
    assert ledger_rows(db, world.line) == before
    assert db.scalars(select(Order)).first() is None  # the cart went with the rollback


def test_the_checkout_rules_apply(api, world):
    requester = api(world.requester)
    past = requester.post("/orders", json=new_order(world, delivery_date="2020-01-02"))
    assert past.status_code == 422
    assert past.get_json()["errors"] == {
        "delivery_date": ["The delivery time must be in the future."]
    }
    far = requester.post("/orders", json=new_order(world, delivery_district="Kepulauan Seribu"))
    assert far.status_code == 422
    unknown = requester.post(
        "/orders", json=new_order(world, lines=[{"product_id": 999_999, "quantity": 1}])
    )
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"] == {"lines.0.product_id": ["No such product."]}
    foreign_line = requester.post(
        "/orders", json=new_order(world, budget_line_id=world.other_line.id)
    )
    assert foreign_line.status_code == 422
    assert "budget_line_id" in foreign_line.get_json()["errors"]


def test_malformed_orders_get_400_with_the_fields_at_fault(api, world):
    body = new_order(world, delivery_date="3 Desember", headcount=-1)
    del body["activity_name"]
    body["lines"] = [{"product_id": "satu", "quantity": 0}]
    response = api(world.requester).post("/orders", json=body)
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert set(errors) == {
        "activity_name",
        "delivery_date",
        "headcount",
        "lines.0.product_id",
        "lines.0.quantity",
    }


def test_lines_of_two_vendors_make_two_orders_of_one_request(api, world, db):
    body = new_order(
        world,
        lines=[
            {"product_id": world.product.id, "quantity": 10},
            {"product_id": world.other_product.id, "quantity": 5},
        ],
    )
    response = api(world.requester).post("/orders", json=body)
    assert response.status_code == 201, response.get_json()
    orders = response.get_json()["data"]
    assert {o["vendor"]["id"] for o in orders} == {world.vendor.id, world.other_vendor.id}
    assert len({o["request_number"] for o in orders}) == 1
    db.refresh(world.line)
    assert world.line.committed == 350_000 + 175_000


def test_the_browser_cart_is_not_submitted_along(api, world, db):
    ordering.add_to_cart(db, world.requester, world.product, 3)
    response = api(world.requester).post("/orders", json=new_order(world))
    assert response.status_code == 409
    [cart] = ordering.cart_orders(db, world.requester)
    assert [line.quantity for line in cart.lines] == [3]


def test_an_order_goes_through_its_whole_life_over_the_api(api, world, db):
    placed = api(world.requester).post("/orders", json=new_order(world)).get_json()["data"][0]
    order_id = placed["id"]
    approver, vendor = api(world.approver), api(world.vendor_owner)

    approved = approver.post(
        f"/orders/{order_id}/actions/approve", json={"version": placed["version"]}
    )
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "approved"

    accepted = vendor.post(f"/orders/{order_id}/actions/accept")
    assert accepted.get_json()["status"] == "accepted"
    delivered = vendor.post(f"/orders/{order_id}/actions/deliver", json={"note": "Diterima satpam"})
    assert delivered.get_json()["status"] == "delivered"
    assert delivered.get_json()["delivery_note"] == "Diterima satpam"

    [line] = delivered.get_json()["lines"]
    received = approver.post(
        f"/orders/{order_id}/actions/receive",
        json={"lines": [{"line_id": line["id"], "quantity_received": 8, "remark": "2 kurang"}]},
    )
    assert received.status_code == 200, received.get_json()
    body = received.get_json()
    assert body["status"] == "received"
    assert body["received_total"] == 8 * 35_000
    assert {d["kind"] for d in body["documents"]} == {"bast", "invoice"}
    assert body["payment"]["outstanding"] == body["payment"]["net_payable"] > 0
    assert (
        body["documents"][0]["pdf_url"]
        == f"/orders/{order_id}/documents/{body['documents'][0]['id']}.pdf"
    )
    issued = db.scalars(select(IssuedDocument).where(IssuedDocument.order_id == order_id)).all()
    assert {d.kind for d in issued} == {DocumentKind.BAST, DocumentKind.INVOICE}
    assert ledger_rows(db, world.line)[-2:] == [
        (EntryKind.SPEND, 280_000),
        (EntryKind.RELEASE, 70_000),
    ]


def test_a_stale_version_is_refused(api, world, db):
    order = world.order_in(db, "submitted")
    stale = order.version - 1
    response = api(world.approver).post(
        f"/orders/{order.id}/actions/approve", json={"version": stale}
    )
    assert response.status_code == 409
    assert "changed since you opened it" in response.get_json()["detail"]
    cancel = api(world.requester).post(
        f"/orders/{order.id}/actions/cancel", json={"version": stale, "reason": "x"}
    )
    assert cancel.status_code == 409
    db.refresh(order)
    assert order.status is OrderStatus.SUBMITTED


def test_an_illegal_step_is_409_and_a_reason_is_required(api, world, db):
    order = world.order_in(db, "approved")
    approver = api(world.approver)
    again = approver.post(f"/orders/{order.id}/actions/approve")
    assert again.status_code == 409
    assert again.get_json()["type"] == "urn:e-order:problem:illegal-transition"

    submitted = world.order_in(db, "submitted")
    for body in ({}, {"reason": "   "}):
        response = approver.post(f"/orders/{submitted.id}/actions/reject", json=body)
        assert response.status_code == 400
        assert "reason" in response.get_json()["errors"]
    rejected = approver.post(
        f"/orders/{submitted.id}/actions/reject", json={"reason": "Tidak sesuai DPA"}
    )
    assert rejected.get_json()["status"] == "rejected"
    assert rejected.get_json()["status_reason"] == "Tidak sesuai DPA"
    assert ledger_rows(db, world.line)[-1] == (EntryKind.RELEASE, submitted.total)


def test_disputes_are_resolved_by_the_curator(api, world, db):
    order = world.order_in(db, "disputed")
    lines = [{"line_id": line.id, "quantity_received": line.quantity} for line in order.lines]
    assert (
        api(world.approver)
        .post(f"/orders/{order.id}/actions/resolve_accept", json={"lines": lines})
        .status_code
        == 403
    )
    resolved = api(world.curator).post(
        f"/orders/{order.id}/actions/resolve_accept", json={"lines": lines, "on_time": True}
    )
    assert resolved.status_code == 200, resolved.get_json()
    assert resolved.get_json()["status"] == "received"
    assert resolved.get_json()["on_time"] is True


def test_the_requester_changes_an_order(api, world, db):
    order = world.order_in(db, "submitted")
    [line] = order.lines
    response = api(world.requester).post(
        f"/orders/{order.id}/actions/resubmit",
        json={
            "lines": [{"line_id": line.id, "quantity": 12}],
            "delivery_date": delivery_in(4)[0].isoformat(),
            "delivery_time": "10:00",
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == 12 * 35_000
    assert response.get_json()["delivery_time"] == "10:00"


def test_finance_reconciles_a_paid_order(api, world, db):
    order = world.order_in(db, "paid")
    response = api(world.finance).post(f"/orders/{order.id}/actions/reconcile")
    assert response.get_json()["status"] == "reconciled"


def test_details_follow_accept_language(api, world, db):
    order = world.order_in(db, "approved")
    client = api(world.approver)
    english = client.post(f"/orders/{order.id}/actions/approve").get_json()
    indonesian = client.post(
        f"/orders/{order.id}/actions/approve", headers={"Accept-Language": "id"}
    )
    assert english["title"] == indonesian.get_json()["title"] == "Not possible in this state"
    assert english["detail"] != indonesian.get_json()["detail"]


def test_a_handover_time_out_of_range_is_refused_not_a_crash(api, world, db):
    order = world.order_in(db, "accepted")
    vendor = api(world.vendor_owner)
    for moment in (
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "2020-01-01T10:00:00Z",
    ):
        response = vendor.post(
            f"/orders/{order.id}/actions/deliver", json={"handed_over_at": moment}
        )
        assert response.status_code == 422, (moment, response.get_json())
        assert "handed_over_at" in response.get_json()["errors"]
    naive = vendor.post(
        f"/orders/{order.id}/actions/deliver", json={"handed_over_at": "2026-12-01T10:00:00"}
    )
    assert naive.status_code == 400

"""Each person against each step of the loop: allowed, or refused (403/404) with nothing changed."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from marketplace.permissions import can_view_order, has_any_permission

USERS = [
    "requester",
    "approver",
    "budget_holder",
    "treasurer",
    "vendor_owner",
    "vendor_staff",
    "finance",
    "curator",
    "auditor",
    "other_requester",
    "other_approver",
    "other_vendor_owner",
]

# step: (order status before, url suffix, form data, who may do it, status after)
STEPS = {
    "approve": ("submitted", "approve", {}, {"approver"}, "approved"),
    "reject": ("submitted", "reject", {"reason": "Tidak sesuai"}, {"approver"}, "rejected"),
    "cancel": ("submitted", "cancel", {"reason": "Rapat batal"}, {"requester"}, "cancelled"),
    "return": ("submitted", "return", {"reason": "Kurangi"}, {"approver"}, "returned"),
    "accept": ("approved", "accept", {}, {"vendor_owner", "vendor_staff"}, "accepted"),
    "decline": (
        "approved",
        "decline",
        {"reason": "Penuh"},
        {"vendor_owner", "vendor_staff"},
        "declined",
    ),
    "deliver": ("accepted", "delivery", "now", {"vendor_owner", "vendor_staff"}, "delivered"),
    "receive": ("delivered", "receive", None, {"approver"}, "received"),
    "dispute": ("delivered", "dispute", {"reason": "Basi"}, {"approver"}, "disputed"),
    "resolve": ("disputed", "resolve", None, {"curator"}, "received"),
    "pay": ("received", "pay", "transfer", {"treasurer"}, "paid"),
    "reconcile": ("paid", "reconcile", {}, {"finance"}, "reconciled"),
}
VENDOR_URLS = {"accept", "decline"}


def footprint(db):
    return (
        db.scalar(select(func.count()).select_from(AuditEvent)),
        db.scalar(select(func.count()).select_from(BudgetEntry)),
    )


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("who", USERS)
def test_step_by_role(client, db, login, world, step, who):
    status_before, suffix, data, allowed, status_after = STEPS[step]
    order = world.order_in(db, status_before)
    if data is None:  # receipt forms: every line fully received
        data = {f"received-{line.id}": line.quantity for line in order.lines}
    elif data == "transfer":  # the transfer form: everything the order is owed
        data = {
            "reference": "SP2D-77",
            "paid_on": payments.jakarta_today().isoformat(),
            "amount": payments.outstanding(db, order),
            "payer_account": "RKUD",
        }
    elif data == "now":  # the delivery form: handed over this minute
        now = datetime.now(JAKARTA)
        data = {
            "handed_over_date": now.date().isoformat(),
            "handed_over_time": now.strftime("%H:%M"),
        }
    user = world.users()[who]
    # The vendor's desk first checks the role (403), then the order's tenant (404).
    visible = can_view_order(user, order) or (
        step in VENDOR_URLS and not has_any_permission(user, "order:fulfil")
    )
    db.commit()
    login(user)
    before = footprint(db)
    prefix = "/vendor/orders" if step in VENDOR_URLS else "/orders"
    response = client.post(f"{prefix}/{order.id}/{suffix}", data=data)
    db.refresh(order)
    if who in allowed:
        assert response.status_code == 302, response.get_data(as_text=True)[:400]
        assert order.status is OrderStatus(status_after)
    else:
        assert response.status_code == (403 if visible else 404)
        assert order.status is OrderStatus(status_before)
        assert footprint(db) == before


@pytest.mark.parametrize("who", USERS)
def test_who_sees_an_order(client, db, login, world, who):
    order = world.order_in(db, "submitted")
    user = world.users()[who]
    db.commit()
    login(user)
    response = client.get(f"/orders/{order.id}")
    sees = who not in {"other_requester", "other_approver", "other_vendor_owner"}
    assert response.status_code == (200 if sees else 404)
    listed = order.number in client.get("/orders").get_data(as_text=True)
    assert listed is sees


def test_a_cart_is_private_to_its_owner(client, db, login, world):
    from marketplace.ordering import services as ordering

    cart = ordering.add_to_cart(db, world.requester, world.product, 3)
    db.commit()
    for who in ("approver", "vendor_owner", "finance"):
        login(world.users()[who])
        assert client.get(f"/orders/{cart.id}").status_code == 404


def test_budget_lines_are_scoped_to_the_agency(client, db, login, world):
    db.commit()
    login(world.requester)
    page = client.get("/budgets/").get_data(as_text=True)
    assert client.get(f"/budgets/{world.other_line.id}").status_code == 404
    assert client.get(f"/budgets/{world.line.id}").status_code == 200
    assert world.other_agency.name not in page
    login(world.vendor_owner)
    assert client.get("/budgets/").status_code == 403
    login(world.finance)
    assert client.get(f"/budgets/{world.other_line.id}").status_code == 200


def test_vendors_edit_only_their_own_products(client, db, login, world):
    db.commit()
    login(world.other_vendor_owner)
    response = client.post(
        f"/vendor/products/{world.product.id}/edit",
        data={
            "name": "Hijacked",
            "category_id": world.product.category_id,
            "unit": "box",
            "price": 1,
            "min_order_quantity": 1,
            "lead_time_hours": 1,
            "status": "published",
        },
    )
    assert response.status_code == 404
    db.refresh(world.product)
    assert world.product.name != "Hijacked"


@pytest.mark.parametrize("who", ["requester", "approver", "finance", "auditor"])
def test_government_users_cannot_use_the_vendor_desk(client, db, login, world, who):
    db.commit()
    login(world.users()[who])
    assert client.get("/vendor/").status_code == 403
    assert client.get("/vendor/products/new").status_code == 403


@pytest.mark.parametrize("who", ["vendor_owner", "approver", "finance", "auditor"])
def test_only_requesters_fill_a_cart(client, db, login, world, who):
    db.commit()
    login(world.users()[who])
    response = client.post(f"/cart/add/{world.product.id}", data={"quantity": 1})
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    for url in ["/orders", "/catalog/", "/cart", "/vendor/", "/budgets/", "/admin/users"]:
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]

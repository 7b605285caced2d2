"""The vendor's desk: listing products, with bad input refused, and answering orders."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from catalog.models import Product
from marketplace.audit.models import AuditEvent
from marketplace.ordering.rules import JAKARTA


def product_form(world, **overrides):
    data = {
        "name": "Tumpeng Nasi Kuning Mini",
        "category_id": world.product.category_id,
        "description": "Untuk 10 orang, lauk 7 macam.",
        "unit": "package",
        "price": "750000",
        "min_order_quantity": "1",
        "lead_time_hours": "48",
        "status": "published",
        "portions_per_unit": "10",
        "tags": ["halal"],
    }
    data.update(overrides)
    return data


def test_vendor_lists_a_product(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    response = client.post("/vendor/products/new", data=product_form(world))
    assert response.status_code == 302
    product = db.scalar(select(Product).where(Product.name == "Tumpeng Nasi Kuning Mini"))
    assert product.price == 750_000
    assert product.vendor_id == world.vendor.id
    assert (
        db.scalar(
            select(AuditEvent.action).where(
                AuditEvent.object_id == product.id, AuditEvent.object_type == "product"
            )
        )
        == "product.create"
    )
    assert product.review_state.value == "pending"
    login(world.requester)
    assert "Tumpeng Nasi Kuning Mini" not in client.get("/catalog/?q=tumpeng").get_data(
        as_text=True
    )
    login(world.curator)
    assert client.post(f"/admin/listings/{product.id}/approve").status_code == 302
    login(world.requester)
    assert "Tumpeng Nasi Kuning Mini" in client.get("/catalog/?q=tumpeng").get_data(as_text=True)


@pytest.mark.parametrize("price", ["", "0", "-5000", "35.000,50", "abc"])
def test_bad_prices_are_refused(client, db, login, world, price):
    db.commit()
    login(world.vendor_owner)
    before = db.scalar(select(func.count()).select_from(Product))
    response = client.post("/vendor/products/new", data=product_form(world, price=price))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in body
    assert "Tumpeng Nasi Kuning Mini" in body
    assert db.scalar(select(func.count()).select_from(Product)) == before


def test_duplicate_product_name_is_refused(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    response = client.post(
        "/vendor/products/new", data=product_form(world, name=world.product.name.upper())
    )
    assert response.status_code == 400
    assert "already have a product" in response.get_data(as_text=True)


def test_vendor_edits_price_and_orders_keep_the_old_one(client, db, login, world):
    order = world.order_in(db, "submitted", quantity=2)
    db.commit()
    login(world.vendor_owner)
    response = client.post(
        f"/vendor/products/{world.product.id}/edit",
        data=product_form(world, name=world.product.name, price="40000", unit="box"),
    )
    assert response.status_code == 302
    db.refresh(world.product)
    assert world.product.price == 40_000
    db.refresh(order)
    assert order.total == 70_000


def test_vendor_answers_and_delivers(client, db, login, world):
    order = world.order_in(db, "approved")
    db.commit()
    login(world.vendor_staff)
    assert order.number in client.get("/vendor/").get_data(as_text=True)
    assert client.post(f"/vendor/orders/{order.id}/accept").status_code == 302
    now = datetime.now(JAKARTA)
    response = client.post(
        f"/orders/{order.id}/delivery",
        data={
            "handed_over_date": now.date().isoformat(),
            "handed_over_time": now.strftime("%H:%M"),
            "note": "Diterima satpam",
        },
    )
    assert response.status_code == 302
    db.refresh(order)
    assert order.status.value == "delivered"


def test_decline_needs_a_reason(client, db, login, world):
    order = world.order_in(db, "approved")
    db.commit()
    login(world.vendor_owner)
    client.post(f"/vendor/orders/{order.id}/decline", data={"reason": ""})
    db.refresh(order)
    assert order.status.value == "approved"

"""Delivery with proof, receipt line by line with timeliness, disputes with photos and their
resolution, and deliveries the agency has not confirmed in time."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from PIL import Image
from sqlalchemy import func, select

from catalog.db import utcnow
from catalog.models import Vendor
from marketplace.budgets.models import BudgetEntry, EntryKind
from marketplace.delivery import services as delivery
from marketplace.delivery.models import OrderPhoto, PhotoPurpose
from marketplace.documents import services as documents
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order, ReceivedByCategory
from marketplace.ordering.rules import JAKARTA
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from tests.marketplace.ordering.test_services import assert_line_matches_ledger
from tests.support import CategoryFactory, ProductFactory, details_for


def photo_bytes(colour: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _ledger_sums(db, line) -> dict[EntryKind, int]:
    rows = db.execute(
        select(BudgetEntry.kind, func.sum(BudgetEntry.amount))
        .where(BudgetEntry.budget_line_id == line.id)
        .group_by(BudgetEntry.kind)
    )
    return {kind: total for kind, total in rows}


def _fetch(client, url: str) -> int:
    with client.get(url) as response:
        return response.status_code


def _order_ledger(db, order) -> dict[EntryKind, int]:
    rows = db.execute(
        select(BudgetEntry.kind, func.sum(BudgetEntry.amount))
        .where(BudgetEntry.order_id == order.id)
        .group_by(BudgetEntry.kind)
    )
    return {kind: total for kind, total in rows}


# Delivery ----------------------------------------------------------------------------


def test_vendor_marks_delivered_with_time_note_and_photos(client, login, db, world, upload_dir):
    order = world.order_in(db, "accepted")
    order.accepted_at = utcnow() - timedelta(hours=2)
    login(world.vendor_owner)
    page = client.get(f"/orders/{order.id}/delivery")
    assert page.status_code == 200
    handed = datetime.now(JAKARTA) - timedelta(minutes=20)
    response = client.post(
        f"/orders/{order.id}/delivery",
        data={
            "handed_over_date": handed.date().isoformat(),
            "handed_over_time": handed.strftime("%H:%M"),
            "note": "Diterima Bu Ani di resepsionis",
            "photos": [(io.BytesIO(photo_bytes()), "bukti.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.expire_all()
    order = db.get(Order, order.id)
    assert order.status is OrderStatus.DELIVERED
    assert order.delivery_note == "Diterima Bu Ani di resepsionis"
    assert order.handed_over_at.astimezone(JAKARTA).strftime("%H:%M") == handed.strftime("%H:%M")
    [photo] = delivery.order_photos(db, order)
    assert photo.purpose is PhotoPurpose.DELIVERY
    url = f"/orders/{order.id}/photos/{photo.id}/thumb.jpg"
    assert _fetch(client, url) == 200
    login(world.approver)
    assert _fetch(client, url) == 200
    assert "Diterima Bu Ani" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    login(world.other_vendor_owner)
    assert client.get(url).status_code == 404
    assert client.get(f"/orders/{order.id}/photos/{photo.id}/../../x.jpg").status_code == 404


def test_a_future_handover_time_is_refused_and_nothing_changes(client, login, db, world):
    order = world.order_in(db, "accepted")
    login(world.vendor_owner)
    later = datetime.now(JAKARTA) + timedelta(hours=3)
    response = client.post(
        f"/orders/{order.id}/delivery",
        data={
            "handed_over_date": later.date().isoformat(),
            "handed_over_time": later.strftime("%H:%M"),
            "note": "keep me",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "cannot be in the future" in page and "keep me" in page
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.ACCEPTED


def test_a_file_that_is_not_a_photo_is_refused_and_leaves_no_files(
    client, login, db, world, upload_dir
):
    from pathlib import Path

    order = world.order_in(db, "accepted")
    photo_dir = Path(upload_dir) / "order-photos"
    before = set(photo_dir.glob("*")) if photo_dir.exists() else set()
    login(world.vendor_owner)
    now = datetime.now(JAKARTA)
    response = client.post(
        f"/orders/{order.id}/delivery",
        data={
            "handed_over_date": now.date().isoformat(),
            "handed_over_time": now.strftime("%H:%M"),
            "photos": [
                (io.BytesIO(photo_bytes()), "good.jpg"),
                (io.BytesIO(b"<?php echo 1; ?>"), "evil.jpg"),
            ],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.ACCEPTED
    assert db.scalar(select(func.count()).select_from(OrderPhoto)) == 0
    after = set(photo_dir.glob("*")) if photo_dir.exists() else set()
    assert after == before


def test_only_the_vendor_marks_delivery(client, login, db, world):
    order = world.order_in(db, "accepted")
    for person in (world.approver, world.other_vendor_owner):
        login(person)
        assert client.get(f"/orders/{order.id}/delivery").status_code in (403, 404)


# Receipt -----------------------------------------------------------------------------


def test_partial_receipts_keep_the_ledger_whole_after_each(db, world):
    line = world.line
    orders = [world.order_in(db, "delivered", quantity=10) for _ in range(3)]
    received = [10, 4, 0]
    spent = 0
    for order, quantity in zip(orders, received, strict=True):
        delivery.receive_order(
            db, world.approver, order, [delivery.LineReceipt(ln.id, quantity) for ln in order.lines]
        )
        spent += quantity * 35_000
        by_kind = _order_ledger(db, order)
        # What the order committed is exactly what it spent plus what it gave back.
        assert by_kind[EntryKind.COMMIT] == order.total
        assert by_kind.get(EntryKind.SPEND, 0) == order.received_total == quantity * 35_000
        assert by_kind.get(EntryKind.SPEND, 0) + by_kind.get(EntryKind.RELEASE, 0) == order.total
        db.refresh(line)
        sums = _ledger_sums(db, line)
        assert line.spent == spent == sums.get(EntryKind.SPEND, 0)
        assert sums[EntryKind.COMMIT] - sums.get(EntryKind.RELEASE, 0) - line.spent == (
            line.committed
        )
        assert line.allocation == line.available + line.committed + line.spent
        assert_line_matches_ledger(db, line)
    assert [o.received_total for o in orders] == [350_000, 140_000, 0]


def test_receipt_records_what_it_spent_per_category(db, world):
    snacks = ProductFactory(vendor=world.vendor, category=CategoryFactory(), price=12_000)
    db.flush()
    ordering.add_to_cart(db, world.requester, world.product, 10)
    ordering.add_to_cart(db, world.requester, snacks, 20)
    [order] = ordering.checkout(
        db,
        world.requester,
        [o.id for o in ordering.cart_orders(db, world.requester)],
        details_for(world.line),
        world.rules,
    )
    ordering.approve_order(db, world.approver, order)
    ordering.accept_order(db, world.vendor_owner, order)
    delivery.deliver_order(db, world.vendor_owner, order)
    got = {world.product.id: 7, snacks.id: 0}
    delivery.receive_order(
        db,
        world.approver,
        order,
        [delivery.LineReceipt(line.id, got[line.product_id]) for line in order.lines],
    )
    rows = db.execute(
        select(
            ReceivedByCategory.category_id,
            ReceivedByCategory.agency_id,
            ReceivedByCategory.received_at,
            ReceivedByCategory.amount,
        ).where(ReceivedByCategory.order_id == order.id)
    ).all()
    # the snacks came to nothing: only the rice boxes' category, at the quantity received
    assert [tuple(row) for row in rows] == [
        (world.product.category_id, world.agency.id, order.received_at, 7 * 35_000)
    ]
    assert order.received_total == 7 * 35_000


def test_receipt_records_timeliness_and_moves_the_vendor_record(client, login, db, world):
    on_time = world.order_in(db, "delivered")
    late = world.order_in(db, "delivered")
    login(world.approver)
    page = client.get(f"/orders/{late.id}/receive").get_data(as_text=True)
    assert "Was it delivered on time?" in page
    for order, answer in ((on_time, "yes"), (late, "no")):
        data = {f"received-{line.id}": str(line.quantity) for line in order.lines}
        data.update(on_time=answer, version=str(order.version))
        response = client.post(f"/orders/{order.id}/receive", data=data)
        assert response.status_code == 302
    db.expire_all()
    assert (db.get(Order, on_time.id).on_time, db.get(Order, late.id).on_time) == (True, False)
    vendor = db.get(Vendor, world.vendor.id)
    assert (vendor.receipts_count, vendor.receipts_on_time, vendor.on_time_percent) == (2, 1, 50)


def test_timeliness_defaults_to_the_delivery_window(db, world):
    order = world.order_in(db, "delivered")
    deadline = delivery.delivery_deadline(order)
    # Orders in tests are for days ahead: handed over days early is not on time either.
    assert delivery.delivered_on_time(order) is False
    order.handed_over_at = deadline - timedelta(hours=1)
    assert delivery.delivered_on_time(order) is True
    order.handed_over_at = deadline
    assert delivery.delivered_on_time(order) is True
    order.handed_over_at = deadline + timedelta(minutes=1)
    assert delivery.delivered_on_time(order) is False
    delivery.receive_order(
        db, world.approver, order, [delivery.LineReceipt(ln.id, ln.quantity) for ln in order.lines]
    )
    assert order.on_time is False


def test_a_stale_receipt_form_is_refused(client, login, db, world):
    order = world.order_in(db, "delivered")
    login(world.approver)
    data = {f"received-{line.id}": "1" for line in order.lines}
    data["version"] = str(order.version - 1)
    response = client.post(f"/orders/{order.id}/receive", data=data)
    assert response.status_code == 409
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.DELIVERED


# Disputes ----------------------------------------------------------------------------


def test_dispute_with_photos_then_accepted_in_part(client, login, db, world):
    order = world.order_in(db, "delivered", quantity=10)
    login(world.approver)
    response = client.post(
        f"/orders/{order.id}/dispute",
        data={
            "reason": "Nasi basi, 4 kotak tidak layak",
            "photos": [(io.BytesIO(photo_bytes("grey")), "basi.jpg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.expire_all()
    order = db.get(Order, order.id)
    assert order.status is OrderStatus.DISPUTED
    assert [p.purpose for p in delivery.order_photos(db, order)] == [PhotoPurpose.DISPUTE]
    assert documents.current_documents(db, order) == []
    login(world.curator)
    data = {f"received-{line.id}": "6" for line in order.lines}
    response = client.post(f"/orders/{order.id}/resolve", data=data)
    assert response.status_code == 302
    db.expire_all()
    order = db.get(Order, order.id)
    assert order.status is OrderStatus.RECEIVED
    assert order.received_total == 6 * 35_000
    db.refresh(world.line)
    assert world.line.spent == 6 * 35_000 and world.line.committed == 0
    assert_line_matches_ledger(db, world.line)
    assert {d.kind.value for d in documents.current_documents(db, order)} == {"bast", "invoice"}
    # the accepted dispute is a receipt like any other for the spending report and finance
    assert db.scalars(
        select(ReceivedByCategory.amount).where(ReceivedByCategory.order_id == order.id)
    ).all() == [6 * 35_000]
    assert order.net_payable == payments.net_payable(db, order) > 0
    bast = next(d for d in documents.current_documents(db, order) if d.kind.value == "bast")
    assert bast.content["resolution"] == {
        "dispute_reason": "Nasi basi, 4 kotak tidak layak",
        "resolved_by": world.curator.name,
        "resolved_by_position": world.curator.position,
    }


def test_dispute_resolved_by_cancelling_releases_everything(client, login, db, world):
    order = world.order_in(db, "disputed")
    login(world.curator)
    response = client.post(
        f"/orders/{order.id}/resolve", data={"outcome": "cancel", "reason": "Tidak layak"}
    )
    assert response.status_code == 302
    db.expire_all()
    order = db.get(Order, order.id)
    assert order.status is OrderStatus.CANCELLED
    db.refresh(world.line)
    assert (world.line.committed, world.line.spent) == (0, 0)
    assert documents.current_documents(db, order) == []


def test_dispute_without_a_reason_changes_nothing(client, login, db, world):
    order = world.order_in(db, "delivered")
    login(world.approver)
    response = client.post(f"/orders/{order.id}/dispute", data={"reason": "  "})
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.DELIVERED


# Overdue receipts --------------------------------------------------------------------


def test_unconfirmed_deliveries_are_listed_and_flagged_when_overdue(client, login, db, world):
    fresh = world.order_in(db, "delivered")
    overdue = world.order_in(db, "delivered")
    overdue.delivered_at = utcnow() - timedelta(days=world.rules.receipt_due_days, hours=1)
    db.flush()
    rows = dict(delivery.awaiting_receipt(db, world.approver, world.rules.receipt_due_days))
    assert rows == {fresh: False, overdue: True}
    assert delivery.awaiting_receipt(db, world.other_approver, 3) == []
    login(world.approver)
    page = client.get("/approvals").get_data(as_text=True)
    assert fresh.reference in page and overdue.reference in page
    assert page.count("overdue") >= 1
    # Nothing is accepted on the agency's behalf.
    db.expire_all()
    assert db.get(Order, overdue.id).status is OrderStatus.DELIVERED

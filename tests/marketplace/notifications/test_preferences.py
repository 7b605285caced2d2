"""Each person chooses, per kind, e-mail at once, in the daily digest, or none."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.notifications.models import Delivery, NotificationPreference
from tests.marketplace.notifications.conftest import outbox


def choices(db, user):  # type: ignore[no-untyped-def]
    db.expire_all()
    return {
        p.kind: p.delivery
        for p in db.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }


def test_the_page_shows_a_person_their_kinds_with_the_defaults(client, db, login, world):
    login(world.approver)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "An order waits for my approval" in page
    assert "An order was delivered: confirm receipt" in page
    assert "A new order for my business" not in page  # a vendor's kind
    assert 'name="kind-order.approval_needed" value="immediate"' in page
    checked = page.split('name="kind-order.approval_needed" value="immediate"')[1].split(">")[0]
    assert "checked" in checked
    assert "/notifications/preferences" in client.get("/notifications/").get_data(as_text=True)


def test_saving_is_per_person_and_changes_what_is_sent(app, client, db, login, world):
    login(world.approver)
    response = client.post(
        "/notifications/preferences",
        data={
            "kind-order.approval_needed": "none",
            "kind-order.delivered": "digest",
            "kind-order.new_for_vendor": "none",  # not the approver's kind: ignored
            "kind-order.rejected": "sometimes",  # not a choice: ignored
        },
    )
    assert response.status_code == 302
    assert choices(db, world.approver) == {
        "order.approval_needed": Delivery.NONE,
        "order.delivered": Delivery.DIGEST,
    }
    page = client.get("/notifications/preferences").get_data(as_text=True)
    checked = page.split('name="kind-order.approval_needed" value="none"')[1].split(">")[0]
    assert "checked" in checked

    login(world.requester)
    assert choices(db, world.requester) == {}
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "An order waits for my approval" not in page
    assert "My order is approved" in page

    with app.app_context():
        world.order_in(db, "submitted")
    assert outbox(db, user_id=world.approver.id) == []

    # Changing one's mind back.
    login(world.approver)
    client.post("/notifications/preferences", data={"kind-order.approval_needed": "immediate"})
    assert choices(db, world.approver)["order.approval_needed"] is Delivery.IMMEDIATE


def test_the_page_needs_a_login(client, db):
    response = client.get("/notifications/preferences")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

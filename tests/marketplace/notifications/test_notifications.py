"""Whoever has to act next is told, in the app, in their own language."""

from sqlalchemy import select

from marketplace.notifications.models import Notification
from marketplace.ordering.services import OrderRules


def kinds_for(db, user):
    return [
        n.kind
        for n in db.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    ]


def test_each_step_tells_the_next_person(db, world):
    world.order_in(db, "received")
    assert kinds_for(db, world.approver) == ["order.approval_needed", "order.delivered"]
    assert kinds_for(db, world.requester) == ["order.approved", "order.accepted"]
    assert kinds_for(db, world.vendor_staff) == ["order.new_for_vendor", "order.received"]
    assert kinds_for(db, world.other_approver) == []
    assert kinds_for(db, world.other_vendor_owner) == []


def test_the_budget_holder_is_told_after_the_first_approval(db, world):
    from marketplace.ordering import services as ordering

    world.rules = OrderRules(second_approval_threshold=100_000)
    order = world.submitted_order(db)
    assert kinds_for(db, world.budget_holder) == []
    ordering.approve_order(db, world.approver, order)
    assert kinds_for(db, world.budget_holder) == ["order.approval_needed"]


def test_the_header_counts_and_the_list_marks_read(client, db, login, world):
    order = world.order_in(db, "submitted")
    db.commit()
    login(world.approver)
    home = client.get("/").get_data(as_text=True)
    assert 'class="counter">1' in home
    page = client.get("/notifications/").get_data(as_text=True)
    assert f"Order {order.number} from {world.agency.name} waits for your approval." in page
    client.post("/notifications/read")
    assert 'class="counter"' not in client.get("/").get_data(as_text=True)
    login(world.requester)
    assert order.number not in client.get("/notifications/").get_data(as_text=True)

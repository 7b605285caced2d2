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


def test_a_dispute_tells_the_curators_and_the_vendor_each_their_own_kind(db, world):
    world.order_in(db, "disputed")
    assert kinds_for(db, world.curator) == ["order.disputed"]
    assert kinds_for(db, world.vendor_staff)[-1] == "order.receipt_refused"
    assert kinds_for(db, world.vendor_owner)[-1] == "order.receipt_refused"
    assert "order.disputed" not in kinds_for(db, world.vendor_staff)


def test_nobody_is_asked_to_approve_their_own_order(db, world):
    from marketplace.accounts.models import Membership, Role
    from marketplace.ordering import services as ordering

    # the requester also holds the budget: the second approval is somebody else's to give
    db.add(Membership(user=world.requester, role=Role.BUDGET_HOLDER, agency_id=world.agency.id))
    db.flush()
    world.rules = OrderRules(second_approval_threshold=100_000)
    order = world.submitted_order(db)
    ordering.approve_order(db, world.approver, order)
    assert kinds_for(db, world.budget_holder) == ["order.approval_needed"]
    assert kinds_for(db, world.requester) == []


def test_the_vendor_hears_of_a_cancellation_only_once_the_order_reached_them(db, world):
    from marketplace.ordering import services as ordering

    world.order_in(db, "cancelled")
    assert kinds_for(db, world.vendor_staff) == []
    order = world.order_in(db, "approved")
    ordering.cancel_order(db, world.requester, order, "Rapat ditunda")
    assert kinds_for(db, world.vendor_staff) == ["order.new_for_vendor", "order.cancelled"]

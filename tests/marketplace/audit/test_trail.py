"""Every state change and money movement leaves an audit event in the same transaction."""

import itertools

from sqlalchemy import select

from marketplace.audit.models import AuditEvent
from marketplace.ordering.states import OrderStatus


def order_events(db, order):
    """The order's transitions (documents issued at receipt are events of their own)."""
    return list(
        db.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "order",
                AuditEvent.object_id == order.id,
                AuditEvent.action.like("order.%"),
            )
            .order_by(AuditEvent.id)
        )
    )


def test_each_transition_records_who_when_and_before_after(db, world):
    order = world.order_in(db, "reconciled")
    events = order_events(db, order)
    assert [e.action for e in events] == [
        "order.submit",
        "order.approve",
        "order.accept",
        "order.deliver",
        "order.receive",
        "order.pay",
        "order.reconcile",
    ]
    actors = [e.actor_id for e in events]
    assert actors == [
        world.requester.id,
        world.approver.id,
        world.vendor_owner.id,
        world.vendor_owner.id,
        world.approver.id,
        world.treasurer.id,
        world.finance.id,
    ]
    for previous, event in itertools.pairwise(events):
        assert event.before["status"] == previous.after["status"]
        assert event.occurred_at >= previous.occurred_at
    assert events[-1].after["status"] == OrderStatus.RECONCILED.value
    assert all(e.agency_id == world.agency.id and e.vendor_id == world.vendor.id for e in events)


def test_budget_movements_are_audited(db, world):
    order = world.order_in(db, "rejected")
    actions = list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "budget_line", AuditEvent.object_id == world.line.id)
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["budget.allocate", "budget.commit", "budget.release"]
    release = db.scalar(select(AuditEvent).where(AuditEvent.action == "budget.release"))
    assert release.after["order_id"] == order.id
    assert release.after["committed"] == 0


def test_a_refused_change_leaves_no_event(client, db, login, world):
    order = world.order_in(db, "submitted")
    db.commit()
    before = len(order_events(db, order))
    login(world.vendor_owner)
    client.post(f"/orders/{order.id}/approve")
    assert len(order_events(db, order)) == before

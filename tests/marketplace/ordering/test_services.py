"""The order loop through the services: budget commitment, approvals, receipt, refusals."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from catalog.db import utcnow
from catalog.models import ProductStatus, VendorStatus
from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry, EntryKind
from marketplace.delivery import services as delivery
from marketplace.delivery.services import LineReceipt
from marketplace.errors import (
    Conflict,
    DomainError,
    IllegalTransition,
    InsufficientBudget,
    PermissionDenied,
)
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.services import OrderRules
from marketplace.ordering.states import OrderStatus
from tests.support import ProductFactory, details_for


def ledger_sums(db, line):
    rows = dict(
        db.execute(
            select(BudgetEntry.kind, func.sum(BudgetEntry.amount))
            .where(BudgetEntry.budget_line_id == line.id)
            .group_by(BudgetEntry.kind)
        ).all()
    )
    return {kind: rows.get(kind, 0) for kind in EntryKind}


def assert_line_matches_ledger(db, line):
    db.refresh(line)
    sums = ledger_sums(db, line)
    assert line.allocation == sums[EntryKind.ALLOCATE] - sums[EntryKind.REDUCE]
    assert (
        line.committed == sums[EntryKind.COMMIT] - sums[EntryKind.RELEASE] - sums[EntryKind.SPEND]
    )
    assert line.spent == sums[EntryKind.SPEND] - sums[EntryKind.REFUND]
    assert line.available >= 0


def counts(db):
    return (
        db.scalar(select(func.count()).select_from(Order).where(Order.status != OrderStatus.CART)),
        db.scalar(select(func.count()).select_from(BudgetEntry)),
        db.scalar(select(func.count()).select_from(AuditEvent)),
    )


def test_submission_commits_the_total_on_the_budget_line(db, world):
    order = world.submitted_order(db, quantity=10)
    assert order.status is OrderStatus.SUBMITTED
    assert order.total == 350_000
    assert order.number.startswith("EO-")
    assert order.submitted_at is not None
    db.refresh(world.line)
    assert world.line.committed == 350_000
    assert world.line.available == 5_000_000 - 350_000
    assert_line_matches_ledger(db, world.line)
    actions = db.scalars(
        select(AuditEvent.action).where(
            AuditEvent.object_id == order.id, AuditEvent.object_type == "order"
        )
    )
    assert list(actions) == ["order.submit"]


def test_full_loop_turns_commitment_into_spending(db, world):
    order = world.order_in(db, "received")
    db.refresh(world.line)
    assert world.line.committed == 0
    assert world.line.spent == order.total
    assert order.received_total == order.total
    assert_line_matches_ledger(db, world.line)
    history = list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "order", AuditEvent.object_id == order.id)
            .order_by(AuditEvent.id)
        )
    )
    assert history == [
        "order.submit",
        "order.approve",
        "order.accept",
        "order.deliver",
        "order.receive",
        "document.issue",
        "document.issue",
    ]


def test_partial_receipt_spends_what_arrived_and_releases_the_rest(db, world):
    order = world.order_in(db, "delivered", quantity=10)
    [line] = order.lines
    delivery.receive_order(db, world.approver, order, [LineReceipt(line.id, 7, "3 boxes missing")])
    assert order.received_total == 7 * 35_000
    db.refresh(world.line)
    assert world.line.spent == 7 * 35_000
    assert world.line.committed == 0
    assert world.line.available == 5_000_000 - 7 * 35_000
    assert_line_matches_ledger(db, world.line)


def test_receipt_quantity_above_ordered_is_refused(db, world):
    order = world.order_in(db, "delivered", quantity=10)
    [line] = order.lines
    with pytest.raises(DomainError):
        delivery.receive_order(db, world.approver, order, [LineReceipt(line.id, 11)])


@pytest.mark.parametrize("status", ["rejected", "cancelled", "declined"])
def test_refusals_release_the_commitment(db, world, status):
    order = world.order_in(db, status)
    assert order.status is OrderStatus(status)
    db.refresh(world.line)
    assert world.line.committed == 0
    assert world.line.available == 5_000_000
    assert order.status_reason
    assert_line_matches_ledger(db, world.line)


def test_nobody_approves_their_own_order(db, world):
    from marketplace.accounts.models import Membership, Role

    db.add(Membership(user=world.requester, role=Role.APPROVER, agency_id=world.agency.id))
    db.flush()
    order = world.submitted_order(db)
    with pytest.raises(PermissionDenied):
        ordering.approve_order(db, world.requester, order)
    assert order.status is OrderStatus.SUBMITTED


def test_over_threshold_needs_the_budget_holder_too(db, world):
    world.rules = OrderRules(second_approval_threshold=300_000)
    order = world.submitted_order(db, quantity=10)  # Rp 350.000
    assert order.needs_second_approval
    ordering.approve_order(db, world.approver, order)
    assert order.status is OrderStatus.SUBMITTED
    with pytest.raises(PermissionDenied):  # the same approver cannot give the second approval
        ordering.approve_order(db, world.approver, order)
    ordering.approve_order(db, world.budget_holder, order)
    assert order.status is OrderStatus.APPROVED
    assert order.second_approved_by_id == world.budget_holder.id


def test_order_over_the_available_budget_is_refused_and_nothing_changes(db, world):
    db.commit()
    before = counts(db)
    ordering.add_to_cart(db, world.requester, world.product, 200)  # Rp 7.000.000 > 5.000.000
    cart = ordering.cart_orders(db, world.requester)
    with pytest.raises(InsufficientBudget):
        ordering.checkout(
            db, world.requester, [o.id for o in cart], details_for(world.line), world.rules
        )
    db.rollback()
    assert counts(db) == before
    db.refresh(world.line)
    assert world.line.committed == 0


def test_order_for_a_past_date_is_refused(db, world):
    ordering.add_to_cart(db, world.requester, world.product, 5)
    cart = ordering.cart_orders(db, world.requester)
    with pytest.raises(DomainError) as info:
        ordering.checkout(
            db, world.requester, [o.id for o in cart], details_for(world.line, days=-1), world.rules
        )
    assert info.value.field == "delivery_date"


def test_lead_time_is_enforced(db, world):
    world.product.lead_time_hours = 24 * 5
    ordering.add_to_cart(db, world.requester, world.product, 5)
    cart = ordering.cart_orders(db, world.requester)
    with pytest.raises(DomainError, match="hours before delivery"):
        ordering.checkout(
            db, world.requester, [o.id for o in cart], details_for(world.line, days=2), world.rules
        )


def test_minimum_quantity_and_order_cap(db, world):
    world.product.min_order_quantity = 20
    ordering.add_to_cart(db, world.requester, world.product, 5)
    cart = ordering.cart_orders(db, world.requester)
    db.commit()
    with pytest.raises(DomainError, match="at least 20"):
        ordering.checkout(
            db, world.requester, [o.id for o in cart], details_for(world.line), world.rules
        )
    db.rollback()
    world.product.min_order_quantity = 1
    db.flush()
    with pytest.raises(DomainError, match="cap"):
        ordering.checkout(
            db,
            world.requester,
            [o.id for o in cart],
            details_for(world.line),
            OrderRules(order_cap=100_000),
        )


def test_second_submission_of_the_same_cart_is_refused(db, world):
    ordering.add_to_cart(db, world.requester, world.product, 5)
    ids = [o.id for o in ordering.cart_orders(db, world.requester)]
    ordering.checkout(db, world.requester, ids, details_for(world.line), world.rules)
    with pytest.raises(Conflict):
        ordering.checkout(db, world.requester, ids, details_for(world.line), world.rules)
    commits = db.scalar(
        select(func.count()).select_from(BudgetEntry).where(BudgetEntry.kind == EntryKind.COMMIT)
    )
    assert commits == 1


def test_checkout_of_several_vendors_shares_one_request_number(db, world):
    second = ProductFactory(vendor=world.other_vendor, price=20_000)
    ordering.add_to_cart(db, world.requester, world.product, 5)
    ordering.add_to_cart(db, world.requester, second, 5)
    ids = [o.id for o in ordering.cart_orders(db, world.requester)]
    assert len(ids) == 2
    orders = ordering.checkout(db, world.requester, ids, details_for(world.line), world.rules)
    assert {o.vendor_id for o in orders} == {world.vendor.id, world.other_vendor.id}
    assert len({o.request_number for o in orders}) == 1
    db.refresh(world.line)
    assert world.line.committed == 5 * 35_000 + 5 * 20_000


def test_the_price_at_ordering_is_kept(db, world):
    order = world.submitted_order(db, quantity=2)
    world.product.price = 99_000
    db.flush()
    assert order.lines[0].unit_price == 35_000
    assert order.total == 70_000


def test_products_of_unverified_vendors_or_paused_cannot_be_ordered(db, world):
    world.product.status = ProductStatus.PAUSED
    with pytest.raises(Conflict):
        ordering.add_to_cart(db, world.requester, world.product, 1)
    world.product.status = ProductStatus.PUBLISHED
    world.vendor.status = VendorStatus.PENDING
    with pytest.raises(Conflict):
        ordering.add_to_cart(db, world.requester, world.product, 1)


def test_only_the_orders_vendor_answers_it(db, world):
    order = world.order_in(db, "approved")
    with pytest.raises(PermissionDenied):
        ordering.accept_order(db, world.other_vendor_owner, order)
    ordering.accept_order(db, world.vendor_staff, order)
    assert order.status is OrderStatus.ACCEPTED


def test_an_illegal_step_is_a_conflict_not_a_change(db, world):
    order = world.order_in(db, "received")
    with pytest.raises(IllegalTransition):
        ordering.approve_order(db, world.approver, order)
    with pytest.raises(IllegalTransition):
        ordering.accept_order(db, world.vendor_owner, order)
    assert order.status is OrderStatus.RECEIVED


def test_unanswered_orders_expire_and_release_the_budget(db, world):
    order = world.order_in(db, "approved")
    deadline = ordering.acceptance_deadline(order, world.rules)
    assert deadline is not None
    assert (
        ordering.expire_unanswered_orders(db, world.rules, now=deadline - timedelta(minutes=1))
        == []
    )
    expired = ordering.expire_unanswered_orders(db, world.rules, now=deadline)
    assert [o.id for o in expired] == [order.id]
    assert order.status is OrderStatus.EXPIRED
    assert ordering.expire_unanswered_orders(db, world.rules, now=deadline) == []  # idempotent
    db.refresh(world.line)
    assert world.line.committed == 0
    assert_line_matches_ledger(db, world.line)


def test_acceptance_deadline_skips_weekends_and_never_passes_delivery(db, world):
    from datetime import datetime

    from marketplace.ordering.services import JAKARTA, add_working_days

    friday = datetime(2026, 11, 27, 10, 0, tzinfo=JAKARTA)
    assert add_working_days(friday, 3).date().isoformat() == "2026-12-02"
    order = world.order_in(db, "approved")
    deadline = ordering.acceptance_deadline(order, world.rules)
    delivery = datetime.combine(order.delivery_date, order.delivery_time, tzinfo=JAKARTA)
    assert deadline <= delivery
    assert deadline > utcnow()


def test_dispute_resolution_by_the_curator(db, world):
    order = world.order_in(db, "disputed")
    [line] = order.lines
    with pytest.raises(PermissionDenied):
        delivery.resolve_dispute_accept(db, world.approver, order, [LineReceipt(line.id, 5)])
    delivery.resolve_dispute_accept(db, world.curator, order, [LineReceipt(line.id, 5)])
    assert order.status is OrderStatus.RECEIVED
    assert order.received_total == 5 * 35_000
    assert_line_matches_ledger(db, world.line)


def checkout_of(db, world, quantity=10, **details):
    ordering.add_to_cart(db, world.requester, world.product, quantity)
    cart = ordering.cart_orders(db, world.requester)
    return ordering.checkout(
        db, world.requester, [o.id for o in cart], details_for(world.line, **details), world.rules
    )


def test_delivery_outside_the_service_area_is_refused(db, world):
    with pytest.raises(DomainError, match="does not deliver to Cakung") as info:
        checkout_of(db, world, delivery_district="Cakung")
    assert info.value.field == "delivery_district"
    [order] = checkout_of(db, world, delivery_district="  menteng ")
    assert order.delivery_district == "Menteng"


def test_closed_days_are_refused(db, world):
    from catalog.models import VendorClosedDay

    day = details_for(world.line).delivery_date
    world.vendor.closed_days.append(VendorClosedDay(day=day, reason="Lebaran"))
    db.flush()
    with pytest.raises(DomainError, match="closed on that day"):
        checkout_of(db, world)


def test_closed_days_are_read_for_the_day_when_the_vendor_s_list_is_not_loaded(db, world):
    from datetime import timedelta

    from sqlalchemy import inspect

    from catalog.models import VendorClosedDay

    day = details_for(world.line).delivery_date
    db.add(VendorClosedDay(vendor_id=world.vendor.id, day=day + timedelta(days=1), reason="x"))
    db.flush()
    db.expire(world.vendor)
    # closed the day after: this one is open
    [order] = checkout_of(db, world)
    assert order.status.value == "submitted"
    assert "closed_days" in inspect(world.vendor).unloaded
    db.add(VendorClosedDay(vendor_id=world.vendor.id, day=day, reason="Lebaran"))
    db.flush()
    db.expire(world.vendor)
    with pytest.raises(DomainError, match="closed on that day"):
        checkout_of(db, world)


def test_a_closed_day_not_yet_written_counts(db, world):
    from datetime import date

    from catalog import vendors
    from catalog.models import VendorClosedDay

    db.expire(world.vendor)
    with db.no_autoflush:
        db.add(VendorClosedDay(vendor=world.vendor, day=date(2031, 3, 1), reason="Nyepi"))
        assert vendors.is_closed_on(world.vendor, date(2031, 3, 1))
        assert not vendors.is_closed_on(world.vendor, date(2031, 3, 2))


def test_order_cut_off_for_the_next_day(db, world):
    from datetime import datetime, time

    from marketplace.ordering.services import JAKARTA

    world.vendor.order_cutoff = time(15, 0)
    world.product.lead_time_hours = 0
    db.flush()
    ordering.add_to_cart(db, world.requester, world.product, 5)
    ids = [o.id for o in ordering.cart_orders(db, world.requester)]
    late = datetime(2026, 12, 1, 16, 0, tzinfo=JAKARTA)
    tomorrow = details_for(world.line)
    tomorrow = type(tomorrow)(
        **{**tomorrow.__dict__, "delivery_date": late.date() + timedelta(days=1)}
    )
    with pytest.raises(DomainError, match="until 15:00"):
        ordering.checkout(db, world.requester, ids, tomorrow, world.rules, now=late)
    early = late.replace(hour=14)
    [order] = ordering.checkout(db, world.requester, ids, tomorrow, world.rules, now=early)
    assert order.status is OrderStatus.SUBMITTED


def test_daily_capacity_counts_accepted_orders(db, world):
    world.vendor.max_portions_per_day = 25
    world.product.portions_per_unit = 1
    db.flush()
    first = world.order_in(db, "accepted", quantity=20)
    assert first.portions == 20
    with pytest.raises(DomainError, match="5 more portions"):
        checkout_of(db, world, quantity=6)
    [cart] = ordering.cart_orders(db, world.requester)
    ordering.set_cart_quantity(db, world.requester, cart.lines[0].id, 5)
    [fits] = ordering.checkout(db, world.requester, [cart.id], details_for(world.line), world.rules)
    assert fits.status is OrderStatus.SUBMITTED


def test_accepting_rechecks_capacity(db, world):
    world.vendor.max_portions_per_day = 25
    db.flush()
    a = world.order_in(db, "approved", quantity=15)
    b = world.order_in(db, "approved", quantity=15)
    ordering.accept_order(db, world.vendor_owner, a)
    with pytest.raises(DomainError, match="10 more portions"):
        ordering.accept_order(db, world.vendor_owner, b)
    assert b.status is OrderStatus.APPROVED


def test_agency_threshold_replaces_the_province_default(db, world):
    world.agency.second_approval_threshold = 300_000
    db.flush()
    order = world.submitted_order(db, quantity=10)  # Rp 350.000
    assert order.needs_second_approval


def test_orders_adding_up_beyond_the_split_threshold_are_flagged_not_blocked(db, world):
    world.rules = OrderRules(split_purchase_threshold=600_000)
    first = world.submitted_order(db, quantity=10)  # Rp 350.000
    assert not first.possible_split
    second = world.submitted_order(db, quantity=10)  # together Rp 700.000, same vendor and day
    assert second.status is OrderStatus.SUBMITTED
    assert first.possible_split and second.possible_split


def test_above_the_standard_unit_cost_needs_a_justification(db, world):
    from marketplace.ordering.caps import PaxPriceCap

    db.add(PaxPriceCap(category_id=world.product.category_id, agency_id=None, max_per_pax=30_000))
    db.flush()
    with pytest.raises(DomainError, match="standard unit cost") as info:
        checkout_of(db, world, quantity=2)
    assert info.value.field == "justification"
    [cart] = ordering.cart_orders(db, world.requester)
    [order] = ordering.checkout(
        db,
        world.requester,
        [cart.id],
        details_for(world.line, justification="Tamu menteri"),
        world.rules,
    )
    assert order.justification == "Tamu menteri"


def test_an_agency_unit_cost_replaces_the_province_standard(db, world):
    from marketplace.ordering.caps import PaxPriceCap

    db.add(PaxPriceCap(category_id=world.product.category_id, agency_id=None, max_per_pax=30_000))
    db.add(
        PaxPriceCap(
            category_id=world.product.category_id, agency_id=world.agency.id, max_per_pax=40_000
        )
    )
    db.flush()
    [order] = checkout_of(db, world, quantity=2)
    assert order.justification == ""


def test_return_for_changes_then_change_and_resubmit(db, world):
    from marketplace.ordering.services import OrderChange

    order = world.order_in(db, "submitted", quantity=10)  # Rp 350.000
    ordering.return_order(db, world.approver, order, "Kurangi jumlahnya")
    assert order.status is OrderStatus.RETURNED
    db.refresh(world.line)
    assert world.line.committed == 350_000  # still held while the requester edits
    with pytest.raises(PermissionDenied):
        ordering.change_order(
            db,
            world.approver,
            order,
            OrderChange({order.lines[0].id: 5}, order.delivery_date, order.delivery_time),
            world.rules,
        )
    ordering.change_order(
        db,
        world.requester,
        order,
        OrderChange({order.lines[0].id: 6}, order.delivery_date, order.delivery_time),
        world.rules,
    )
    assert order.status is OrderStatus.SUBMITTED
    assert order.total == 210_000
    db.refresh(world.line)
    assert world.line.committed == 210_000
    assert_line_matches_ledger(db, world.line)


def test_changing_an_approved_order_sends_it_back_to_approval(db, world):
    from marketplace.ordering.services import OrderChange

    order = world.order_in(db, "approved", quantity=10)
    ordering.change_order(
        db,
        world.requester,
        order,
        OrderChange({order.lines[0].id: 20}, order.delivery_date, order.delivery_time),
        world.rules,
    )
    assert order.status is OrderStatus.SUBMITTED
    assert order.approved_by_id is None
    db.refresh(world.line)
    assert world.line.committed == 700_000
    assert_line_matches_ledger(db, world.line)
    ordering.approve_order(db, world.approver, order)
    assert order.status is OrderStatus.APPROVED


def test_a_change_beyond_the_budget_is_refused_and_changes_nothing(db, world):
    from marketplace.ordering.services import OrderChange

    order = world.order_in(db, "submitted", quantity=10)
    db.commit()
    with pytest.raises(InsufficientBudget):
        ordering.change_order(
            db,
            world.requester,
            order,
            OrderChange({order.lines[0].id: 200}, order.delivery_date, order.delivery_time),
            world.rules,
        )
    db.rollback()
    db.refresh(order)
    assert (order.total, order.lines[0].quantity) == (350_000, 10)
    db.refresh(world.line)
    assert world.line.committed == 350_000


def test_accepted_orders_cannot_be_changed(db, world):
    from marketplace.ordering.services import OrderChange

    order = world.order_in(db, "accepted")
    with pytest.raises(IllegalTransition):
        ordering.change_order(
            db,
            world.requester,
            order,
            OrderChange({order.lines[0].id: 1}, order.delivery_date, order.delivery_time),
            world.rules,
        )


def test_a_stale_page_cannot_approve_a_changed_order(client, db, login, world):
    from marketplace.ordering.services import OrderChange

    order = world.order_in(db, "submitted", quantity=10)
    seen = order.version
    ordering.change_order(
        db,
        world.requester,
        order,
        OrderChange({order.lines[0].id: 50}, order.delivery_date, order.delivery_time),
        world.rules,
    )
    db.commit()
    login(world.approver)
    response = client.post(f"/orders/{order.id}/approve", data={"version": seen})
    assert response.status_code == 409
    db.refresh(order)
    assert order.status is OrderStatus.SUBMITTED and order.approved_by_id is None
    assert (
        client.post(f"/orders/{order.id}/approve", data={"version": order.version}).status_code
        == 302
    )


def test_no_acceptance_after_the_deadline(db, world):
    order = world.order_in(db, "approved")
    deadline = ordering.acceptance_deadline(order, world.rules)
    with pytest.raises(Conflict, match="has passed"):
        ordering.accept_order(db, world.vendor_owner, order, rules=world.rules, now=deadline)
    assert order.status is OrderStatus.APPROVED


def test_delivery_outside_the_lines_fiscal_year_is_refused(db, world):
    with pytest.raises(DomainError, match="fiscal year"):
        checkout_of(db, world, days=400)


def test_repeat_goes_to_the_orders_agency(db, world):
    from marketplace.accounts.models import Membership, Role

    db.add(Membership(user=world.requester, role=Role.REQUESTER, agency_id=world.other_agency.id))
    db.flush()
    db.refresh(world.requester)
    past = world.order_in(db, "received")
    past.agency_id = world.other_agency.id
    db.flush()
    ordering.repeat_order(db, world.requester, past)
    [cart] = ordering.cart_orders(db, world.requester)
    assert cart.agency_id == world.other_agency.id


def test_checkout_writes_the_budget_line_last_so_its_lock_is_held_briefly(db, world):
    from sqlalchemy import event

    ordering.add_to_cart(db, world.requester, world.product, 10)
    cart = ordering.cart_orders(db, world.requester)
    db.flush()
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_rest):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()).upper())

    bind = db.connection()
    event.listen(bind, "before_cursor_execute", note)
    try:
        ordering.checkout(
            db, world.requester, [o.id for o in cart], details_for(world.line), world.rules
        )
        db.flush()  # as the commit does first
    finally:
        event.remove(bind, "before_cursor_execute", note)

    line_update = next(
        i for i, sql in enumerate(statements) if sql.startswith("UPDATE BUDGET_LINES")
    )
    # after it only the ledger row and its audit event, then the commit seals and ends
    after = sorted(" ".join(sql.split()[:3]) for sql in statements[line_update + 1 :])
    assert after == ["INSERT INTO AUDIT_EVENTS", "INSERT INTO BUDGET_ENTRIES"]
    # the order itself is written once (the split-purchase flag is a statement of its own)
    order_writes = [sql for sql in statements if sql.startswith("UPDATE ORDERS SET NUMBER")]
    assert len(order_writes) == 1
    db.refresh(world.line)
    assert world.line.committed == 350_000
    assert_line_matches_ledger(db, world.line)


def test_checkout_refuses_a_cart_the_line_cannot_cover_before_writing_anything(db, world):
    ordering.add_to_cart(db, world.requester, world.product, 200)  # Rp 7.000.000 > 5.000.000
    cart = ordering.cart_orders(db, world.requester)
    db.flush()
    before = counts(db)
    with pytest.raises(InsufficientBudget) as info:
        ordering.checkout(
            db, world.requester, [o.id for o in cart], details_for(world.line), world.rules
        )
    assert "Not enough budget left on" in str(info.value.message)
    assert counts(db) == before  # nothing flushed: no order moved, no ledger row, no event
    assert all(order.status is OrderStatus.CART for order in cart)

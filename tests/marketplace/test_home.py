"""The home page: one section per role the person holds, each with its own figures, never
another agency's or business's, an empty state that says what to do, and a fixed number of
queries however many rows there are."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event

from catalog.db import utcnow
from catalog.models import (
    DocumentKind,
    DocumentStatus,
    ProductStatus,
    ReviewState,
    VendorClosedDay,
    VendorDocument,
)
from marketplace.accounts.models import Role
from marketplace.ordering.rules import JAKARTA
from marketplace.web import today_in_jakarta
from tests.support import ProductFactory, user_with_roles


def other_agency(world):  # type: ignore[no-untyped-def]
    """The world as seen from the second agency (its requester and approver)."""
    return replace(
        world,
        agency=world.other_agency,
        line=world.other_line,
        requester=world.other_requester,
        approver=world.other_approver,
    )


def other_vendor(world):  # type: ignore[no-untyped-def]
    return replace(
        world,
        vendor=world.other_vendor,
        product=world.other_product,
        vendor_owner=world.other_vendor_owner,
    )


def home(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def section(page: str, heading_id: str) -> str:
    """The HTML of one role's section, from its heading to the end of the section."""
    start = page.index(f'id="{heading_id}"')
    return page[start : page.index("</section>", start)]


# Requester ---------------------------------------------------------------------------


def test_the_requester_sees_open_orders_first_the_budget_left_and_order_again(
    client, db, login, world
):
    received = world.order_in(db, "received", quantity=2)
    waiting = world.order_in(db, "submitted", quantity=3)
    foreign = other_agency(world).order_in(db, "submitted", quantity=4)
    db.commit()
    login(world.requester)
    page = section(home(client), "home-requester")

    assert page.index(waiting.reference) < page.index(received.reference)
    assert "badge badge-submitted" in page and "Waiting for approval" in page
    assert foreign.reference not in page
    # the line: what is left of the allocation, with a bar
    db.refresh(world.line)
    assert f"Rp {world.line.available:,}".replace(",", ".") in page
    assert "available of Rp 5.000.000" in page
    assert 'class="meter-fill"' in page
    # the received order can go back into the cart in one step
    assert f'action="/orders/{received.id}/repeat"' in page
    assert f'action="/orders/{waiting.id}/repeat"' not in page


def test_order_again_puts_the_items_back_in_the_cart(client, db, login, world):
    received = world.order_in(db, "received", quantity=2)
    db.commit()
    login(world.requester)
    response = client.post(f"/orders/{received.id}/repeat")
    assert response.status_code == 302
    assert "vendor in your cart" in home(client)


def test_a_new_requester_is_told_what_to_do(client, db, login, world):
    db.commit()
    login(world.requester)
    page = section(home(client), "home-requester")
    assert "No orders in progress. Find what your activity needs in the catalogue" in page
    assert "Orders you received appear here" in page


def test_a_requester_without_an_open_line_is_told_whom_to_ask(client, db, login, world):
    world.line.frozen = True
    db.commit()
    login(world.requester)
    page = section(home(client), "home-requester")
    assert "No open budget line to order against" in page


# Approver and budget holder ----------------------------------------------------------


def test_the_approver_sees_the_queue_with_budget_impact_and_flags(client, db, login, world):
    flagged = world.order_in(db, "submitted", quantity=5)
    flagged.possible_split = True
    flagged.justification = "Tamu VIP dari kementerian."
    plain = world.order_in(db, "submitted", quantity=2)
    foreign = other_agency(world).order_in(db, "submitted")
    db.commit()
    db.refresh(world.line)
    login(world.approver)
    page = section(home(client), "home-approver")

    assert flagged.reference in page and plain.reference in page
    assert foreign.reference not in page
    assert "Rp 175.000" in page  # 5 x Rp 35.000
    assert world.line.account_code in page
    # the total is committed at submission: what the line has now is left after the order
    assert f"Rp {world.line.available:,}".replace(",", ".") in page
    assert "possible split purchase" in page and "above unit cost" in page
    assert "no flags" in page


def test_the_budget_holder_sees_orders_waiting_for_the_second_approval(client, db, login, world):
    from marketplace.ordering import services as ordering

    order = world.submitted_order(db)
    order.needs_second_approval = True
    ordering.approve_order(db, world.approver, order)
    db.commit()
    login(world.budget_holder)
    page = section(home(client), "home-approver")
    assert order.reference in page
    assert "needs 2 approvals" in page and "first approval given" in page
    # the budget holder does not confirm receipts
    assert "Deliveries to confirm" not in page


def test_the_approver_sees_overdue_receipts_first(client, db, login, world):
    recent = world.order_in(db, "delivered")
    late = world.order_in(db, "delivered")
    late.delivered_at = utcnow() - timedelta(days=10)
    foreign = other_agency(world).order_in(db, "delivered")
    db.commit()
    login(world.approver)
    page = section(home(client), "home-approver")
    receipts = page[page.index('id="home-receipts"') :]
    assert receipts.index(late.reference) < receipts.index(recent.reference)
    assert "1 overdue" in receipts
    assert f'href="/orders/{late.id}/receive"' in receipts
    assert foreign.reference not in receipts


def test_an_approver_with_nothing_to_do(client, db, login, world):
    db.commit()
    login(world.approver)
    page = section(home(client), "home-approver")
    assert "Nothing is waiting for you." in page
    assert "No delivery waits for your confirmation." in page


# Vendor ------------------------------------------------------------------------------


def deliver_on(db, order, days_from_today: int) -> None:  # type: ignore[no-untyped-def]
    order.delivery_date = today_in_jakarta() + timedelta(days=days_from_today)
    db.flush()


def test_the_vendor_sees_today_and_tomorrow_capacity_attention_and_payments(
    client, db, login, world
):
    today = today_in_jakarta()
    world.vendor.max_portions_per_day = 100
    today_order = world.order_in(db, "accepted", quantity=4)
    deliver_on(db, today_order, 0)
    tomorrow_order = world.order_in(db, "accepted", quantity=6)
    deliver_on(db, tomorrow_order, 1)
    later = world.order_in(db, "accepted", quantity=7)  # three days ahead: calendar only
    db.add(
        VendorClosedDay(vendor_id=world.vendor.id, day=today + timedelta(days=5), reason="Libur")
    )
    rejected = ProductFactory(vendor=world.vendor, review_state=ReviewState.REJECTED)
    rejected.review_note = "Foto buram."
    paused = ProductFactory(vendor=world.vendor, status=ProductStatus.PAUSED)
    fine = ProductFactory(vendor=world.vendor)
    db.add(
        VendorDocument(
            vendor=world.vendor,
            kind=DocumentKind.PIRT,
            number="PIRT-77",
            issued_on=today - timedelta(days=300),
            expires_on=today + timedelta(days=10),
            file_name="pirt.pdf",
            file_type="pdf",
            status=DocumentStatus.VERIFIED,
        )
    )
    owed = world.order_in(db, "received", quantity=3)
    foreign = other_vendor(world).order_in(db, "accepted")
    deliver_on(db, foreign, 1)
    db.commit()
    login(world.vendor_owner)
    page = section(home(client), "home-vendor")

    assert today_order.reference in page and tomorrow_order.reference in page
    assert page.index(today_order.reference) < page.index(tomorrow_order.reference)
    assert later.reference not in page
    assert foreign.reference not in page and world.other_vendor.trading_name not in page
    assert world.agency.name in page and "Jl. Kebon Sirih No. 22" in page
    assert f"6 × {world.product.name}" in page
    assert "11:30" in page
    # the calendar: portions booked against the daily capacity, the closed day marked
    # (three days ahead: the later order's 7 and the received order's 3)
    assert "4 of 100 portions" in page and "10 of 100 portions" in page
    assert "calendar-day is-closed" in page and "Libur" in page
    # listings and documents that need the owner
    assert rejected.name in page and "Rejected by the curator" in page and "Foto buram." in page
    assert paused.name in page and "Paused" in page
    assert fine.name not in page
    assert "PIRT-77" in page and "expires in 10 days" in page
    # the money coming, with its expected date
    assert owed.reference in page
    # (the Jakarta day of receipt: after 17:00 UTC it is already the next day there)
    due = (owed.received_at.astimezone(JAKARTA).date() + timedelta(days=14)).strftime("%b %-d, %Y")
    assert f"expected by {due}" in page
    assert 'href="/vendor/kitchen"' in page


def test_a_quiet_vendor_is_told_what_comes_next(client, db, login, world):
    db.commit()
    login(world.vendor_staff)
    page = section(home(client), "home-vendor")
    assert "No delivery today." in page
    assert "No delivery tomorrow." in page
    assert "No payment is expected." in page
    assert "All your listings are on sale" in page
    assert "You have set no daily limit." in page


# Treasurer ---------------------------------------------------------------------------


def test_the_treasurer_sees_what_to_pay_with_overdue_ones_highlighted(client, db, login, world):
    fresh = world.order_in(db, "received", quantity=2)
    late = world.order_in(db, "received", quantity=3)
    late.received_at = utcnow() - timedelta(days=20)
    other_agency(world).order_in(db, "received")
    db.commit()
    login(world.treasurer)
    page = section(home(client), "home-treasurer")
    # two orders; net payable is the gross less 4% PPh 23 (the test vendor has no NPWP)
    owed = (2 + 3) * 35_000 - (2 * 35_000 * 4 // 100) - (3 * 35_000 * 4 // 100)
    assert "<dd>2</dd>" in page
    assert f"Rp {owed:,}".replace(",", ".") in page
    assert page.index(late.reference) < page.index(fresh.reference)
    assert 'class="is-overdue"' in page
    assert 'href="/payments/"' in page


def test_a_treasurer_with_nothing_to_pay(client, db, login, world):
    db.commit()
    login(world.treasurer)
    assert "Nothing to pay." in section(home(client), "home-treasurer")


# Finance -----------------------------------------------------------------------------


def test_finance_sees_exceptions_the_small_business_share_and_timeliness(client, db, login, world):
    late = world.order_in(db, "received")
    late.received_at = utcnow() - timedelta(days=20)
    world.order_in(db, "paid")
    db.commit()
    login(world.finance)
    page = section(home(client), "home-finance")
    assert "Received, unpaid and past the due date</a> <strong>1</strong>" in page
    assert 'href="/finance/exceptions"' in page
    # the test vendor is micro: everything received went to micro and small businesses
    assert 'id="home-chart-sme"' in page and 'role="img"' in page
    assert "100.0% of" in page and "target met" in page
    assert 'id="home-chart-timeliness"' in page
    assert f"{world.agency.name}: 100.0% of paid orders were paid within the term" in page
    assert "1 past due and unpaid" in page


def test_finance_on_a_quiet_year(client, db, login, world):
    db.commit()
    login(world.finance)
    page = section(home(client), "home-finance")
    assert "No open exception" in page
    assert "Nothing received yet in" in page
    assert "No order paid yet this year." in page


# Curator -----------------------------------------------------------------------------


def test_the_curator_sees_the_queues(client, db, login, world):
    from catalog.models import VendorStatus

    world.other_vendor.status = VendorStatus.PENDING
    ProductFactory(vendor=world.vendor, review_state=ReviewState.PENDING)
    world.order_in(db, "disputed")
    db.commit()
    login(world.curator)
    page = section(home(client), "home-curator")
    assert 'href="/admin/vendors">Vendors to verify</a></dt><dd>1</dd>' in page
    assert 'href="/admin/listings">Listings to review</a></dt><dd>1</dd>' in page
    assert "Documents to check</a></dt><dd>0</dd>" in page
    assert 'href="/orders?status=disputed">Disputes to resolve</a></dt><dd>1</dd>' in page


def test_a_curator_with_empty_queues(client, db, login, world):
    db.commit()
    login(world.curator)
    assert "Every queue is empty." in section(home(client), "home-curator")


# Several roles -----------------------------------------------------------------------


def test_a_person_with_several_roles_gets_one_section_per_role(client, db, login, world):
    person = user_with_roles(db, Role.APPROVER, Role.TREASURER, agency=world.agency)
    db.commit()
    login(person)
    page = home(client)
    assert 'id="home-approver"' in page and 'id="home-treasurer"' in page
    for absent in ("home-requester", "home-vendor", "home-finance", "home-curator"):
        assert f'id="{absent}"' not in page


@pytest.mark.parametrize(
    ("who", "shown"),
    [
        ("requester", "home-requester"),
        ("vendor_owner", "home-vendor"),
        ("finance", "home-finance"),
        ("curator", "home-curator"),
        ("auditor", "home-auditor"),
    ],
)
def test_each_role_sees_only_its_own_section(client, db, login, world, who, shown):
    db.commit()
    login(getattr(world, who))
    page = home(client)
    sections = [
        "home-requester",
        "home-approver",
        "home-treasurer",
        "home-vendor",
        "home-finance",
        "home-curator",
        "home-auditor",
    ]
    assert [s for s in sections if f'id="{s}"' in page] == [shown]


def test_visitors_see_the_welcome_page(client, db):
    page = client.get("/").get_data(as_text=True)
    assert "Register your food business" in page


# Queries -----------------------------------------------------------------------------


@contextmanager
def counting_queries(engine):  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


STATES = ("submitted", "accepted", "delivered", "received", "paid")


def add_rows(db, world, rounds: int) -> None:  # type: ignore[no-untyped-def]
    """`rounds` orders in each state, some due today and tomorrow, some overdue, and as many
    listings needing attention."""
    for _ in range(rounds):
        for state in STATES:
            order = world.order_in(db, state, quantity=1)
            if state == "accepted":
                deliver_on(db, order, 0)
            elif state == "delivered":
                order.delivered_at = utcnow() - timedelta(days=10)
            elif state == "received":
                order.received_at = utcnow() - timedelta(days=20)
        ProductFactory(vendor=world.vendor, review_state=ReviewState.REJECTED)
        ProductFactory(vendor=world.vendor, review_state=ReviewState.PENDING)
    db.commit()


@pytest.mark.parametrize(
    ("who", "sign_of_twenty"),
    [
        ("requester", '<span class="home-count">60</span>'),  # submitted, accepted, delivered
        ("approver", '<span class="home-count">20</span>'),
        ("treasurer", "<dd>20</dd>"),
        ("vendor_owner", "20 of 500 portions"),
        ("finance", "<strong>20</strong>"),  # received, unpaid and past due
        ("curator", "Listings to review</a></dt><dd>20</dd>"),
    ],
)
def test_the_number_of_queries_does_not_grow_with_the_rows(
    app, client, db, login, world, who, sign_of_twenty
):
    engine = app.extensions["db_engine"]
    world.vendor.max_portions_per_day = 500
    add_rows(db, world, 2)
    login(getattr(world, who))
    with counting_queries(engine) as few:
        home(client)

    add_rows(db, world, 18)
    with counting_queries(engine) as many:
        page = home(client)

    assert sign_of_twenty in page
    assert len(many) == len(few), "\n\n".join(many)

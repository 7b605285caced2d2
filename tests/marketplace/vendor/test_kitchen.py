"""The vendor's kitchen sheet: accepted orders by day and time window, with what to cook in
total each day; only the vendor's own orders; dates checked with a clear message."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta

import pytest

from marketplace.vendor.kitchen import RangeError, kitchen_days, parse_range
from marketplace.web import today_in_jakarta
from tests.support import ProductFactory


def accepted(db, world, days: int, at: time, *, quantity=10, until=None, product=None, **kw):  # type: ignore[no-untyped-def]
    """An accepted order delivered `days` from today at `at` (until `until`)."""
    walker = replace(world, product=product) if product is not None else world
    order = walker.order_in(db, "accepted", quantity=quantity)
    order.delivery_date = today_in_jakarta() + timedelta(days=days)
    order.delivery_time = at
    order.delivery_until = until
    for name, value in kw.items():
        setattr(order, name, value)
    db.flush()
    return order


def test_orders_are_grouped_by_day_and_window_with_totals_per_product(db, world):
    drinks = ProductFactory(vendor=world.vendor, name="Es Teh Manis Cup")
    noon = accepted(db, world, 0, time(12, 0), quantity=10, until=time(12, 30))
    noon_too = accepted(db, world, 0, time(12, 0), quantity=5, until=time(12, 30))
    morning = accepted(db, world, 0, time(9, 0), quantity=7, product=drinks)
    tomorrow = accepted(db, world, 1, time(10, 0), quantity=3)
    world.order_in(db, "approved")  # not accepted yet: not on the sheet
    cancelled = world.order_in(db, "cancelled")
    today = today_in_jakarta()

    days = kitchen_days(db, world.vendor, today, today + timedelta(days=1))

    assert [d.day for d in days] == [today, today + timedelta(days=1)]
    first = days[0]
    assert [(w.starts, w.until) for w in first.windows] == [
        (time(9, 0), None),
        (time(12, 0), time(12, 30)),
    ]
    assert first.windows[0].orders == [morning]
    assert first.windows[1].orders == [noon, noon_too]
    assert [(t.name, t.quantity, t.orders) for t in first.totals] == [
        (world.product.name, 15, 2),
        ("Es Teh Manis Cup", 7, 1),
    ]
    assert first.portions == 22
    assert days[1].windows[0].orders == [tomorrow]
    everything = [o for d in days for w in d.windows for o in w.orders]
    assert cancelled not in everything


def test_the_sheet_shows_every_detail_the_kitchen_and_the_driver_need(client, db, login, world):
    order = accepted(
        db,
        world,
        1,
        time(11, 30),
        quantity=12,
        until=time(12, 0),
        notes="5 porsi tanpa sambal.",
        headcount=12,
    )
    db.commit()
    login(world.vendor_staff)
    response = client.get("/vendor/kitchen")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert order.reference in page
    assert world.agency.name in page
    assert "Joko Susilo" in page and "0812-1111-2222" in page
    assert "Jl. Kebon Sirih No. 22, Menteng" in page
    assert "5 porsi tanpa sambal." in page
    assert "11:30–12:00" in page
    assert "What to cook" in page
    assert f'<th scope="row">{world.product.name}</th><td class="num">12 box</td>' in page
    assert "data-print hidden" in page and "js/print.js" in page


def test_a_range_of_days(client, db, login, world):
    soon = accepted(db, world, 1, time(12, 0))
    later = accepted(db, world, 4, time(12, 0))
    db.commit()
    login(world.vendor_owner)
    today = today_in_jakarta()
    page = client.get("/vendor/kitchen").get_data(as_text=True)
    assert soon.reference in page and later.reference not in page
    first, last = today + timedelta(days=3), today + timedelta(days=5)
    page = client.get(f"/vendor/kitchen?from={first}&to={last}").get_data(as_text=True)
    assert later.reference in page and soon.reference not in page


def test_an_empty_sheet_says_what_to_do(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    page = client.get("/vendor/kitchen").get_data(as_text=True)
    assert "No accepted order to deliver on these days." in page


def test_another_vendors_orders_never_show(client, db, login, world):
    theirs = replace(
        world,
        vendor=world.other_vendor,
        product=world.other_product,
        vendor_owner=world.other_vendor_owner,
    )
    foreign = accepted(db, theirs, 0, time(12, 0))
    mine = accepted(db, world, 0, time(12, 0))
    db.commit()
    login(world.vendor_owner)
    page = client.get("/vendor/kitchen").get_data(as_text=True)
    assert mine.reference in page
    assert foreign.reference not in page and world.other_vendor.trading_name not in page
    # naming the other business is not found, not quietly shown
    assert client.get(f"/vendor/kitchen?vendor={world.other_vendor.id}").status_code == 404
    assert client.get(f"/vendor/kitchen?vendor={world.vendor.id}").status_code == 200


@pytest.mark.parametrize("who", ["requester", "approver", "treasurer", "finance", "curator"])
def test_people_other_than_vendors_are_refused(client, db, login, world, who):
    db.commit()
    login(getattr(world, who))
    assert client.get("/vendor/kitchen").status_code == 403


def test_visitors_are_sent_to_log_in(client, db):
    assert client.get("/vendor/kitchen").status_code == 302


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=30-11-2026", "is not a date for “First day”; write it as YYYY-MM-DD."),
        ("from=2026-11-30&to=tomorrow", "is not a date for “Last day”; write it as YYYY-MM-DD."),
        ("from=2026-12-05&to=2026-12-01", "The last day comes before the first; swap them."),
        ("from=2026-01-01&to=2026-03-01", "One sheet covers at most 31 days."),
    ],
)
def test_bad_dates_get_a_clear_message(client, db, login, world, query, message):
    db.commit()
    login(world.vendor_owner)
    response = client.get(f"/vendor/kitchen?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'role="alert"' in page and 'aria-invalid="true"' in page


def test_the_range_defaults_to_today_and_tomorrow():
    today = date(2026, 11, 30)
    assert parse_range(None, None, today) == (today, date(2026, 12, 1))
    assert parse_range("2026-12-03", None, today) == (date(2026, 12, 3), date(2026, 12, 4))
    assert parse_range("2026-12-03", "2026-12-03", today) == (date(2026, 12, 3),) * 2
    with pytest.raises(RangeError):
        parse_range("2026-12-03", "2026-12-02", today)


def test_the_desk_links_to_the_sheet(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    assert 'href="/vendor/kitchen"' in client.get("/vendor/").get_data(as_text=True)


def test_the_sheet_takes_the_same_queries_whatever_the_orders(app, db, world):
    from sqlalchemy import event

    def count(action) -> int:  # type: ignore[no-untyped-def]
        seen = 0

        def one(*_args) -> None:  # type: ignore[no-untyped-def]
            nonlocal seen
            seen += 1

        engine = db.get_bind()
        event.listen(engine, "before_cursor_execute", one)
        try:
            action()
        finally:
            event.remove(engine, "before_cursor_execute", one)
        return seen

    today = today_in_jakarta()
    for hour in (9, 12):
        accepted(db, world, 0, time(hour, 0), quantity=1)
    db.expire_all()
    few = count(lambda: kitchen_days(db, world.vendor, today, today))
    for hour in range(6, 20):
        accepted(db, world, 0, time(hour, 0), quantity=1)
    db.expire_all()
    many = count(lambda: kitchen_days(db, world.vendor, today, today))
    assert few == many

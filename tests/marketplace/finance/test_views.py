"""The finance pages as people use them: finance sees every agency, a treasurer only theirs
(pages and exports), the auditor reads but cannot explain, reconcile or close."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from marketplace.payments.models import ClosedPeriod, ExplainedException, StripeEvent
from tests.marketplace.finance.conftest import seed_payment
from tests.support import form_token, log_in_through_the_form

PAGES = [
    "/finance/",
    "/finance/exceptions",
    "/finance/reconcile",
    "/finance/payments",
    "/finance/ledgers",
    "/finance/reports",
    "/finance/exports",
    "/finance/periods",
]


def previous_month() -> str:
    today = payments.jakarta_today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


@pytest.mark.parametrize("who", ["finance", "auditor", "treasurer"])
def test_every_finance_page_opens(client, login, db, world, orders, who):
    orders.paid()
    orders.received(days_ago=20)
    orders.reconciled(other_agency=True)
    login(getattr(world, who))
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:800])


@pytest.mark.parametrize("who", ["requester", "approver", "vendor_owner", "curator"])
def test_others_cannot_open_finance(client, login, world, who):
    login(getattr(world, who))
    for url in [*PAGES, "/finance/exports/orders.csv"]:
        assert client.get(url).status_code == 403, url


def test_overview_shows_agencies_and_filters(client, login, db, world, orders):
    orders.paid(quantity=10)
    orders.received(other_agency=True, quantity=4)
    login(world.finance)
    page = client.get("/finance/").get_data(as_text=True)
    assert "Rp 350.000" in page and "Rp 140.000" in page and "Rp 490.000" in page
    page = client.get(f"/finance/?agency={world.other_agency.id}").get_data(as_text=True)
    assert "Rp 140.000" in page and "Rp 350.000" not in page
    last_year = payments.jakarta_today().year - 1
    page = client.get(f"/finance/?month={last_year}").get_data(as_text=True)
    assert "No orders were received in this period." in page


def test_treasurer_sees_only_their_agency(client, login, db, world, orders):
    mine = orders.received(days_ago=20)
    theirs = orders.received(other_agency=True, days_ago=20)
    login(world.treasurer)
    overview = client.get("/finance/").get_data(as_text=True)
    assert world.agency.name in overview and world.other_agency.name not in overview
    listing = client.get("/finance/exceptions").get_data(as_text=True)
    # the page links each finding to its order; the internal "order:N" ids are in the export only
    assert f'/orders/{mine.id}"' in listing and f'/orders/{theirs.id}"' not in listing
    assert "Mark explained" not in listing
    ledgers = client.get("/finance/ledgers").get_data(as_text=True)
    assert world.agency.name in ledgers and world.other_agency.name not in ledgers
    csv_text = client.get("/finance/exports/orders.csv").get_data(as_text=True)
    assert mine.reference in csv_text and theirs.reference not in csv_text
    # asking for the other agency is refused, not quietly emptied
    for url in ["/finance/", "/finance/exports/orders.csv", "/finance/reports"]:
        assert client.get(f"{url}?agency={world.other_agency.id}").status_code == 403


def test_treasurer_cannot_open_a_stripe_event(client, login, db, world):
    from datetime import UTC, datetime

    db.add(
        StripeEvent(
            id="evt_x",
            type="charge.succeeded",
            stripe_created=datetime(2026, 1, 1, tzinfo=UTC),
            payload={"data": {"object": {"id": "ch_x", "amount": 100}}},
        )
    )
    db.flush()
    login(world.treasurer)
    assert client.get("/finance/stripe-events/evt_x").status_code == 404
    login(world.finance)
    page = client.get("/finance/stripe-events/evt_x")
    assert page.status_code == 200 and "ch_x" in page.get_data(as_text=True)


def test_finance_explains_on_the_page(client, login, db, world, orders):
    order = orders.received(days_ago=20)
    login(world.finance)
    page = client.get("/finance/exceptions").get_data(as_text=True)
    assert f"order:{order.id}" in page and "Mark explained" in page
    response = client.post(
        "/finance/exceptions/explain",
        data={"kind": "unpaid_past_due", "subject": f"order:{order.id}", "note": ""},
    )
    assert response.status_code == 400
    assert "Write what you found." in response.get_data(as_text=True)
    response = client.post(
        "/finance/exceptions/explain",
        data={
            "kind": "unpaid_past_due",
            "subject": f"order:{order.id}",
            "note": "SP2D sedang diproses BUD",
        },
    )
    assert response.status_code == 302
    page = client.get("/finance/exceptions").get_data(as_text=True)
    assert "SP2D sedang diproses BUD" in page
    assert "0 open exceptions" in page


@pytest.mark.parametrize("who", ["auditor", "treasurer"])
def test_only_finance_explains_reconciles_and_closes(client, login, db, world, orders, who):
    overdue = orders.received(days_ago=20)
    paid = orders.paid()
    login(getattr(world, who))
    assert (
        client.post(
            "/finance/exceptions/explain",
            data={"kind": "unpaid_past_due", "subject": f"order:{overdue.id}", "note": "ok"},
        ).status_code
        == 403
    )
    assert client.post(f"/finance/reconcile/{paid.id}").status_code == 403
    assert client.post("/finance/periods", data={"month": previous_month()}).status_code == 403
    db.expire_all()
    assert db.scalar(select(ExplainedException.id)) is None
    assert db.scalar(select(ClosedPeriod.year)) is None
    assert db.get(Order, paid.id).status is OrderStatus.PAID
    page = client.get("/finance/reconcile").get_data(as_text=True)
    assert "Mark reconciled" not in page


def test_finance_reconciles_a_paid_order_whose_checks_pass(client, login, db, world, orders):
    good = orders.paid()
    odd = orders.paid()
    seed_payment(db, odd, 5_000)  # now paid more than its net payable
    login(world.finance)
    page = client.get("/finance/reconcile").get_data(as_text=True)
    assert good.reference in page and odd.reference in page
    assert page.count("Mark reconciled") == 1
    assert client.post(f"/finance/reconcile/{good.id}").status_code == 302
    assert client.post(f"/finance/reconcile/{odd.id}").status_code == 409
    db.expire_all()
    assert db.get(Order, good.id).status is OrderStatus.RECONCILED
    assert db.get(Order, odd.id).status is OrderStatus.PAID


def test_reconcile_button_needs_the_csrfform_token(csrf_client, db, world, orders):
    order = orders.paid()
    log_in_through_the_form(csrf_client, world.finance)
    assert csrf_client.post(f"/finance/reconcile/{order.id}").status_code == 400
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.PAID
    page = csrf_client.get("/finance/reconcile").get_data(as_text=True)
    response = csrf_client.post(
        f"/finance/reconcile/{order.id}", data={"csrf_token": form_token(page)}
    )
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Order, order.id).status is OrderStatus.RECONCILED


def test_finance_closes_a_month_on_the_page(client, login, db, world):
    login(world.finance)
    page = client.get("/finance/periods").get_data(as_text=True)
    assert "Close the month" in page
    month = previous_month()
    response = client.post("/finance/periods", data={"month": month})
    assert response.status_code == 302
    response = client.post("/finance/periods", data={"month": month})
    assert response.status_code == 400
    assert "already closed" in response.get_data(as_text=True)
    today = payments.jakarta_today()
    response = client.post("/finance/periods", data={"month": f"{today:%Y-%m}"})
    assert response.status_code == 400
    assert "Only a month that is over can be closed." in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalars(select(ClosedPeriod)).all()[0].closed_by_id == world.finance.id


def test_reports_page_has_accessible_charts_with_tables(client, login, db, world, orders):
    orders.paid()
    login(world.finance)
    page = client.get("/finance/reports").get_data(as_text=True)
    assert page.count('role="img"') == 6
    for chart in ["chart-agency", "chart-vendor", "chart-category", "chart-month", "chart-sme"]:
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in page
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page
    assert page.count('class="chart-table"') == 6
    assert "100.0%" in page  # the world's only vendor is a micro business
    assert "Target 40.0%" in page

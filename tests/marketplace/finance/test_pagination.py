"""The long finance lists come a page at a time: the next page shows the next rows, the
totals and counts cover every page, and the page links keep the agency and period."""

from __future__ import annotations

import re

from marketplace.finance import exceptions, reconciliation
from marketplace.finance.queries import FinanceScope
from marketplace.payments import services as payments
from tests.marketplace.finance.conftest import seed_payment

DUE_DAYS = 14
EVERYWHERE = FinanceScope(None)


def rules() -> dict[str, object]:
    return {"today": payments.jakarta_today(), "payment_due_days": DUE_DAYS}


def test_exception_pages_add_up_to_the_whole_list(db, world, orders):
    for _i in range(3):
        orders.received(days_ago=20)
    odd = orders.paid()
    seed_payment(db, odd, 5_000)  # paid more than the net payable: mismatch and duplicate
    orders.received(other_agency=True, days_ago=30)
    everything = exceptions.find_exceptions(db, EVERYWHERE, **rules())  # type: ignore[arg-type]
    assert len(everything.open) >= 5

    seen = []
    for number in range(1, 10):
        found = exceptions.exception_page(db, EVERYWHERE, page=number, size=2, **rules())  # type: ignore[arg-type]
        assert found.page.total == len(everything.open)
        assert found.counts == everything.count_by_kind()
        if number > found.page.pages:
            break
        assert len(found.page.items) <= 2
        seen += [(item.kind, item.subject, item.amount) for item in found.page.items]
    assert seen == [(item.kind, item.subject, item.amount) for item in everything.open]
    assert exceptions.count_by_kind(db, EVERYWHERE, **rules()) == everything.count_by_kind()  # type: ignore[arg-type]


def test_explained_exceptions_leave_the_open_pages(db, world, orders):
    first, second = orders.received(days_ago=20), orders.received(days_ago=21)
    exceptions.explain(
        db,
        world.finance,
        "unpaid_past_due",
        f"order:{first.id}",
        "SP2D 123",
        **rules(),  # type: ignore[arg-type]
    )
    open_page = exceptions.exception_page(db, EVERYWHERE, **rules())  # type: ignore[arg-type]
    explained = exceptions.exception_page(db, EVERYWHERE, explained=True, **rules())  # type: ignore[arg-type]
    assert [item.subject for item in open_page.page.items] == [f"order:{second.id}"]
    [item] = explained.page.items
    assert item.subject == f"order:{first.id}" and item.explanation.note == "SP2D 123"
    assert explained.counts["unpaid_past_due"] == 1


def test_reconcile_pages_follow_the_order_of_payment(db, world, orders):
    paid = [orders.paid() for _i in range(3)]
    everything = reconciliation.reconcile_checks(db, EVERYWHERE)
    first = reconciliation.reconcile_page(db, EVERYWHERE, page=1, size=2)
    second = reconciliation.reconcile_page(db, EVERYWHERE, page=2, size=2)
    assert (first.total, first.pages, second.number) == (3, 2, 2)
    assert [c.order.id for c in first.items + second.items] == [c.order.id for c in everything]
    assert {c.order.id for c in everything} == {o.id for o in paid}
    assert [(c.net_payable, c.paid, c.ok) for c in first.items + second.items] == [
        (c.net_payable, c.paid, c.ok) for c in everything
    ]
    # a page past the end shows the last one
    assert reconciliation.reconcile_page(db, EVERYWHERE, page=9, size=2).number == 2
    assert reconciliation.count_waiting(db, EVERYWHERE) == 3


def test_payment_totals_cover_every_page(db, world, orders):
    paid = [orders.paid(quantity=q) for q in (2, 3, 4)]
    first = reconciliation.payments_vs_stripe(db, EVERYWHERE, None, transfer_page=1, size=2)
    second = reconciliation.payments_vs_stripe(db, EVERYWHERE, None, transfer_page=2, size=2)
    assert len(first.transfers) == 2 and len(second.transfers) == 1
    assert first.transfer_page is not None and first.transfer_page.total == 3
    ids = [c.payment.id for c in first.transfers + second.transfers]
    assert len(set(ids)) == 3
    expected = sum(payments.net_payable(db, order) for order in paid)
    assert first.transfer_total == second.transfer_total == expected


def test_ledger_pages_and_differences_cover_every_line(db, world, orders):
    orders.received()
    orders.received(other_agency=True)
    everything = reconciliation.ledger_vs_orders(db, EVERYWHERE)
    pages = [
        reconciliation.ledger_page(db, EVERYWHERE, page=n, size=1)
        for n in range(1, len(everything) + 1)
    ]
    assert all(p.page.total == len(everything) for p in pages)
    assert [(c.line.id, c.difference, c.ok) for p in pages for c in p.page.items] == [
        (c.line.id, c.difference, c.ok) for c in everything
    ]
    assert pages[0].differences == sum(1 for c in everything if not c.ok)


def test_page_links_keep_the_filters(app, client, login, db, world, orders, monkeypatch):
    monkeypatch.setitem(app.config, "FINANCE_PAGE_SIZE", 1)
    for _i in range(3):
        orders.paid()
    orders.paid(other_agency=True)
    login(world.finance)
    agency, month = world.agency.id, payments.jakarta_today().strftime("%Y-%m")

    page = client.get(f"/finance/payments?agency={agency}&month={month}").get_data(as_text=True)
    assert "3 treasury transfers" in page
    links = re.findall(r'href="(/finance/payments\?[^"]+)"', page)
    next_link = next(link.replace("&amp;", "&") for link in links if "transfer_page=2" in link)
    assert f"agency={agency}" in next_link and f"month={month}" in next_link
    second = client.get(next_link).get_data(as_text=True)
    assert "Page 2 of 3" in second and "transfer_page=3" in second

    page = client.get(f"/finance/reconcile?agency={agency}").get_data(as_text=True)
    assert "3 paid orders are waiting." in page and "Page 1 of 3" in page
    assert f"/finance/reconcile?agency={agency}&amp;page=2" in page
    assert page.count("Mark reconciled") == 1

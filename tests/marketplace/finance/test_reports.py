"""Spending reports and payment timeliness on a small world, with integer shares."""

from __future__ import annotations

from datetime import date, datetime, time

from catalog.models import BusinessScale
from marketplace.finance import reports
from marketplace.finance.charts import Bar, bar_chart, column_chart
from marketplace.finance.queries import FinanceScope, permille, tenths
from marketplace.ordering.rules import JAKARTA
from marketplace.payments import services as payments

EVERYWHERE = FinanceScope(None)


def jakarta_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), JAKARTA)


def test_integer_shares_round_half_up():
    assert permille(1, 3) == 333
    assert permille(2, 3) == 667
    assert permille(1, 8) == 125
    assert permille(0, 5) == 0 and permille(5, 0) is None
    assert tenths(31, 2) == 155 and tenths(1, 3) == 3 and tenths(0, 0) is None


def test_spending_per_agency_vendor_category_month_and_sme_share(db, world, orders):
    world.other_vendor.scale = BusinessScale.MEDIUM
    year = payments.jakarta_today().year - 1
    micro = orders.received(quantity=10, received_at=jakarta_noon(date(year, 3, 5)))
    medium = orders.received(
        other_vendor=True, quantity=20, received_at=jakarta_noon(date(year, 3, 31))
    )
    elsewhere = orders.received(
        other_agency=True, quantity=4, received_at=jakarta_noon(date(year, 7, 1))
    )
    orders.received(quantity=2)  # this year: not in last year's report
    report = reports.spending_report(db, EVERYWHERE, year, locale="en")
    amounts = (micro.received_total, medium.received_total, elsewhere.received_total)
    assert amounts == (350_000, 700_000, 140_000)
    assert report.total == 1_190_000 and report.orders == 3
    assert [(s.label, s.amount, s.count) for s in report.by_agency] == [
        (world.agency.name, 1_050_000, 2),
        (world.other_agency.name, 140_000, 1),
    ]
    assert [(s.key, s.amount) for s in report.by_vendor] == [
        (world.other_vendor.id, 700_000),
        (world.vendor.id, 490_000),
    ]
    assert report.other_vendors is None
    [category] = report.by_category
    assert (category.label, category.amount, category.permille) == (
        world.product.category.name_en,
        1_190_000,
        1000,
    )
    assert [(s.key, s.amount) for s in report.by_month if s.amount] == [
        (3, 1_050_000),
        (7, 140_000),
    ]
    assert len(report.by_month) == 12
    # micro: 490.000 of 1.190.000 = 41.18% -> 412 tenths of a percent: the target is met
    assert report.sme_amount == 490_000
    assert report.sme_permille == 412
    assert report.sme_meets_target
    assert {s.key: s.permille for s in report.by_scale} == {
        BusinessScale.MICRO: 412,
        BusinessScale.SMALL: 0,
        BusinessScale.MEDIUM: 588,
    }
    own = reports.spending_report(db, FinanceScope(frozenset({world.agency.id})), year)
    assert own.total == 1_050_000
    assert own.sme_permille == 333 and not own.sme_meets_target


def test_payment_timeliness_per_agency(db, world, orders):
    year = payments.jakarta_today().year - 1
    orders.paid(received_at=jakarta_noon(date(year, 3, 1)), paid_on=date(year, 3, 21))  # 20 days
    orders.paid(received_at=jakarta_noon(date(year, 3, 10)), paid_on=date(year, 3, 21))  # 11 days
    orders.paid(
        other_agency=True, received_at=jakarta_noon(date(year, 5, 1)), paid_on=date(year, 5, 15)
    )  # 14 days: still within the term
    orders.received(days_ago=30)  # overdue now
    rows, total = reports.timeliness(
        db, EVERYWHERE, year, payment_due_days=14, today=payments.jakarta_today()
    )
    by_agency = {row.agency_id: row for row in rows}
    mine = by_agency[world.agency.id]
    assert (mine.paid, mine.average_tenths, mine.within_due, mine.within_due_permille) == (
        2,
        155,
        1,
        500,
    )
    assert mine.overdue_open == 1
    theirs = by_agency[world.other_agency.id]
    assert (theirs.paid, theirs.average_tenths, theirs.within_due_permille) == (1, 140, 1000)
    assert (total.paid, total.average_tenths, total.within_due_permille) == (3, 150, 667)


def test_charts_are_accessible_and_escape_labels():
    svg = bar_chart(
        "c1",
        "Spending <per> agency",
        "Rupiah per agency",
        [Bar("Dinas <Kesehatan> & Co", 10, "Rp 10"), Bar("Dinas B", 0, "Rp 0")],
        target=(5, "Target"),
    )
    assert svg.startswith(
        '<svg class="chart" id="c1" role="img" aria-labelledby="c1-title c1-desc"'
    )
    assert '<title id="c1-title">Spending &lt;per&gt; agency</title>' in svg
    assert '<desc id="c1-desc">Rupiah per agency</desc>' in svg
    assert "Dinas &lt;Kesehatan&gt; &amp; Co" in svg and "<Kesehatan>" not in svg
    assert 'class="chart-target"' in svg
    columns = column_chart(
        "c2", "Months", "Per month", [Bar("Jan", 3, "Rp 3"), Bar("Feb", 0, "Rp 0")]
    )
    assert columns.count('class="chart-bar"') == 2 and 'role="img"' in columns

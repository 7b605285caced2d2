"""Closing a month: only finance, only a month that is over, only once; afterwards nothing
can be dated in it, and late corrections show under the month they correct."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from marketplace.audit.models import AuditEvent
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.finance import periods
from marketplace.finance.queries import FinanceScope, Period
from marketplace.ordering.rules import JAKARTA
from marketplace.payments import services as payments
from marketplace.payments.models import ClosedPeriod
from tests.marketplace.finance.conftest import pay


def last_month(today: date) -> tuple[int, int]:
    first = today.replace(day=1) - timedelta(days=1)
    return first.year, first.month


def test_finance_closes_a_past_month(db, world):
    today = payments.jakarta_today()
    year, month = last_month(today)
    closed = periods.close_month(db, world.finance, year, month, today=today)
    assert (closed.year, closed.month, closed.closed_by_id) == (year, month, world.finance.id)
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "period.close")).one()
    assert event.after == {"year": year, "month": month} and event.actor_id == world.finance.id
    assert payments.is_closed(db, date(year, month, 1))
    assert Period(year, month) not in periods.closable_months(db, today)
    with pytest.raises(Conflict):
        periods.close_month(db, world.finance, year, month, today=today)


@pytest.mark.parametrize("months_ahead", [0, 1, 13])
def test_the_current_and_future_months_cannot_be_closed(db, world, months_ahead):
    today = payments.jakarta_today()
    index = today.year * 12 + today.month - 1 + months_ahead
    with pytest.raises(DomainError) as error:
        periods.close_month(db, world.finance, index // 12, index % 12 + 1, today=today)
    assert error.value.field == "month"
    assert db.scalar(select(ClosedPeriod.year)) is None


@pytest.mark.parametrize("who", ["auditor", "treasurer", "curator"])
def test_only_finance_closes(db, world, who):
    today = payments.jakarta_today()
    with pytest.raises(PermissionDenied):
        periods.close_month(db, getattr(world, who), *last_month(today), today=today)


def test_after_closing_no_transfer_can_be_dated_in_the_month(db, world, orders):
    today = payments.jakarta_today()
    year, month = last_month(today)
    order = orders.received(received_at=datetime.combine(date(year, month, 2), time(10), JAKARTA))
    periods.close_month(db, world.finance, year, month, today=today)
    with pytest.raises(DomainError) as error:
        pay(db, world, order, paid_on=date(year, month, 20))
    assert error.value.field == "paid_on"
    assert payments.amount_paid(db, order.id) == 0
    # dated today instead, it goes through and shows as a correction of the closed month
    payment = pay(db, world, order, paid_on=today)
    corrections = periods.corrections_after_close(db, FinanceScope(None))
    [correction] = corrections[(year, month)]
    assert (correction.kind, correction.payment_id, correction.order_id) == (
        "payment",
        payment.id,
        order.id,
    )
    assert correction.dated == today and correction.amount == payment.amount
    assert periods.corrections_after_close(
        db, FinanceScope(frozenset({world.other_agency.id}))
    ) == {(year, month): []}


def test_closable_months_are_the_open_past_months(db, world):
    today = date(2026, 3, 15)
    assert periods.closable_months(db, today, back=3) == [
        Period(2026, 2),
        Period(2026, 1),
        Period(2025, 12),
    ]
    periods.close_month(db, world.finance, 2026, 1, today=today)
    assert periods.closable_months(db, today, back=3) == [Period(2026, 2), Period(2025, 12)]

"""Reminders of deadlines: a vendor's time to answer running out, a payment falling due,
and receipts and payments overdue. Each is given once per order and person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.accounts.models import Role, User
from marketplace.delivery.services import receipt_due_at
from marketplace.i18n import local_date
from marketplace.notifications.emails import moment
from marketplace.notifications.kinds import JAKARTA
from marketplace.notifications.services import (
    agency_people,
    already_notified,
    notify_user,
    vendor_people,
)
from marketplace.ordering.models import Order
from marketplace.ordering.rules import OrderRules, acceptance_deadline
from marketplace.ordering.states import OrderStatus
from marketplace.payments.services import payment_due_on

#: a vendor is reminded when this little time is left to accept or decline
ACCEPTANCE_WARNING = timedelta(hours=24)
#: a treasurer is reminded this many days before a payment falls due
PAYMENT_WARNING_DAYS = 3


@dataclass
class ReminderReport:
    acceptance_due: int = 0
    payment_due: int = 0
    receipt_overdue: int = 0
    payment_overdue: int = 0

    @property
    def total(self) -> int:
        return self.acceptance_due + self.payment_due + self.receipt_overdue + self.payment_overdue


def _orders(session: Session, status: OrderStatus) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.status == status).order_by(Order.id)))


def _remind(
    session: Session,
    order: Order,
    kind: str,
    user_ids: list[int],
    facts: Callable[[], list[tuple[str, str]]],
    key: str,
) -> int:
    """Tell each person once about this order (in the app, and by e-mail as they chose)."""
    told = 0
    for user_id in dict.fromkeys(user_ids):
        if already_notified(session, user_id, kind, order.id):
            continue
        user = session.get(User, user_id)
        if user is None or not user.active:
            continue
        notify_user(session, user, kind, order=order, facts=facts, dedupe_key=f"{key}:{user_id}")
        told += 1
    return told


def queue_reminders(
    session: Session, rules: OrderRules, now: datetime | None = None
) -> ReminderReport:
    """Remind whoever must act of deadlines near or passed. Safe to run repeatedly (e.g.
    hourly): each reminder is given once per order and person. Flushes, never commits."""
    now = now or utcnow()
    today = now.astimezone(JAKARTA).date()
    report = ReminderReport()

    for order in _orders(session, OrderStatus.APPROVED):
        deadline = acceptance_deadline(order, rules)
        if deadline is not None and now < deadline <= now + ACCEPTANCE_WARNING:
            report.acceptance_due += _remind(
                session,
                order,
                "reminder.acceptance_due",
                vendor_people(session, order.vendor_id),
                lambda deadline=deadline: [(_("Answer by"), moment(deadline))],
                f"remind:accept:{order.id}",
            )

    for order in _orders(session, OrderStatus.RECEIVED):
        due = payment_due_on(order, rules.payment_due_days)
        if due is None or (due - today).days > PAYMENT_WARNING_DAYS:
            continue
        overdue = due < today
        report_field = "payment_overdue" if overdue else "payment_due"
        told = _remind(
            session,
            order,
            "reminder.payment_overdue" if overdue else "reminder.payment_due",
            agency_people(session, order.agency_id, Role.TREASURER),
            lambda due=due: [(_("Payment due"), local_date(due, "medium"))],
            f"remind:{'pay-overdue' if overdue else 'pay'}:{order.id}",
        )
        setattr(report, report_field, getattr(report, report_field) + told)

    for order in _orders(session, OrderStatus.DELIVERED):
        due_at = receipt_due_at(order, rules.receipt_due_days)
        if due_at is not None and due_at < now:
            report.receipt_overdue += _remind(
                session,
                order,
                "reminder.receipt_overdue",
                agency_people(session, order.agency_id, Role.APPROVER),
                lambda due_at=due_at: [(_("Receipt was due"), moment(due_at))],
                f"remind:receipt-overdue:{order.id}",
            )
    session.flush()
    return report

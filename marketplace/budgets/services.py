"""The budget ledger: every movement is a guarded UPDATE of the line plus a ledger row.

The guarded UPDATE (`... WHERE allocation - committed - spent >= :amount`) is atomic on
PostgreSQL and, with BEGIN IMMEDIATE, on SQLite, so no interleaving of requests can take a
line below zero.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.accounts.models import Role, User
from marketplace.audit.services import record_event
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.errors import DomainError, InsufficientBudget, NotFound


def _positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise DomainError(_l("An amount must be a whole number of rupiah above zero."))


def _move(
    session: Session,
    line: BudgetLine,
    kind: EntryKind,
    amount: int,
    guard: ColumnElement[bool],
    values: dict[str, object],
    *,
    actor: User | None,
    order_id: int | None,
    reason: str,
) -> BudgetEntry:
    _positive(amount)
    result = session.execute(
        update(BudgetLine)
        .where(BudgetLine.id == line.id, guard)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(line)
        if kind is EntryKind.COMMIT and line.frozen:
            raise InsufficientBudget(_l("This budget line is frozen; choose another line."))
        if kind is EntryKind.COMMIT:
            raise InsufficientBudget(
                _l("Not enough budget left on %(code)s.", code=line.account_code)
            )
        raise DomainError(_l("This budget movement does not match the line's totals."))
    session.refresh(line)
    entry = BudgetEntry(
        budget_line_id=line.id,
        kind=kind,
        amount=amount,
        order_id=order_id,
        actor_id=actor.id if actor else None,
        reason=reason,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    record_event(
        session,
        actor,
        f"budget.{kind.value}",
        "budget_line",
        line.id,
        after={
            "amount": amount,
            "order_id": order_id,
            "allocation": line.allocation,
            "committed": line.committed,
            "spent": line.spent,
        },
        agency_id=line.agency_id,
    )
    return entry


def allocate(
    session: Session, line: BudgetLine, amount: int, *, actor: User | None, reason: str
) -> BudgetEntry:
    return _move(
        session,
        line,
        EntryKind.ALLOCATE,
        amount,
        BudgetLine.id == line.id,
        {"allocation": BudgetLine.allocation + amount},
        actor=actor,
        order_id=None,
        reason=reason,
    )


def commit(
    session: Session, line: BudgetLine, amount: int, *, actor: User | None, order_id: int
) -> BudgetEntry:
    """Encumber `amount` for an order; refuses when the line cannot cover it."""
    return _move(
        session,
        line,
        EntryKind.COMMIT,
        amount,
        (BudgetLine.allocation - BudgetLine.committed - BudgetLine.spent >= amount)
        & (BudgetLine.frozen.is_(False)),
        {"committed": BudgetLine.committed + amount},
        actor=actor,
        order_id=order_id,
        reason="",
    )


def release(
    session: Session,
    line: BudgetLine,
    amount: int,
    *,
    actor: User | None,
    order_id: int,
    reason: str = "",
) -> BudgetEntry:
    return _move(
        session,
        line,
        EntryKind.RELEASE,
        amount,
        BudgetLine.committed >= amount,
        {"committed": BudgetLine.committed - amount},
        actor=actor,
        order_id=order_id,
        reason=reason,
    )


def spend(
    session: Session, line: BudgetLine, amount: int, *, actor: User | None, order_id: int
) -> BudgetEntry:
    """Turn `amount` of an order's commitment into spending."""
    return _move(
        session,
        line,
        EntryKind.SPEND,
        amount,
        BudgetLine.committed >= amount,
        {"committed": BudgetLine.committed - amount, "spent": BudgetLine.spent + amount},
        actor=actor,
        order_id=order_id,
        reason="",
    )


# Reading -------------------------------------------------------------------------------

BUDGET_READERS = frozenset({Role.REQUESTER, Role.APPROVER, Role.BUDGET_HOLDER, Role.TREASURER})
PROVINCE_BUDGET_READERS = frozenset({Role.FINANCE, Role.AUDITOR})


def can_view_budgets(user: User, agency_id: int) -> bool:
    return bool(user.roles_in_agency(agency_id) & BUDGET_READERS) or bool(
        user.province_roles() & PROVINCE_BUDGET_READERS
    )


def visible_budget_lines(session: Session, user: User) -> list[BudgetLine]:
    query = select(BudgetLine).order_by(
        BudgetLine.agency_id, BudgetLine.fiscal_year.desc(), BudgetLine.account_code
    )
    if not user.province_roles() & PROVINCE_BUDGET_READERS:
        agency_ids = {
            m.agency_id for m in user.memberships if m.role in BUDGET_READERS and m.agency_id
        }
        query = query.where(BudgetLine.agency_id.in_(agency_ids))
    return list(session.scalars(query))


def chargeable_lines(session: Session, agency_id: int) -> list[BudgetLine]:
    """Lines a requester of the agency can charge an order to."""
    return list(
        session.scalars(
            select(BudgetLine)
            .where(BudgetLine.agency_id == agency_id, BudgetLine.frozen.is_(False))
            .order_by(BudgetLine.fiscal_year.desc(), BudgetLine.account_code)
        )
    )


def get_visible_line(session: Session, user: User, line_id: int) -> BudgetLine:
    line = session.get(BudgetLine, line_id)
    if line is None or not can_view_budgets(user, line.agency_id):
        raise NotFound(_l("No such budget line."))
    return line


def ledger(session: Session, line: BudgetLine) -> list[BudgetEntry]:
    return list(
        session.scalars(
            select(BudgetEntry)
            .where(BudgetEntry.budget_line_id == line.id)
            .order_by(BudgetEntry.created_at, BudgetEntry.id)
        )
    )

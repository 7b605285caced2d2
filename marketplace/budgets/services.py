"""The budget ledger: every movement is a guarded UPDATE of the line plus a ledger row.

The guarded UPDATE (`... WHERE allocation - committed - spent >= :amount`) is atomic on
PostgreSQL and, with BEGIN IMMEDIATE, on SQLite, so no interleaving of requests can take a
line below zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Update, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from catalog.db import Money, utcnow
from marketplace.accounts.models import Role, User
from marketplace.audit.services import add_event, record_event
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.errors import Conflict, DomainError, InsufficientBudget, NotFound, PermissionDenied
from marketplace.i18n import rupiah
from marketplace.permissions import has_permission


def _positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise DomainError(_l("An amount must be a whole number of rupiah above zero."))


#: what a movement's UPDATE reads back: the figures, and what decides whether it may move
_FIGURES = (
    BudgetLine.allocation,
    BudgetLine.committed,
    BudgetLine.spent,
    BudgetLine.frozen,
    BudgetLine.closed_at,
)


#: the amount of a movement, in the statements below
_AMOUNT = bindparam("move_amount", type_=Money)
_AVAILABLE = BudgetLine.allocation - BudgetLine.committed - BudgetLine.spent


def _movement_terms(kind: EntryKind) -> tuple[ColumnElement[bool] | None, dict[str, Any]]:
    """What a kind of movement requires of the line, and what it changes."""
    return {
        EntryKind.ALLOCATE: (None, {"allocation": BudgetLine.allocation + _AMOUNT}),
        EntryKind.COMMIT: (
            (_AVAILABLE >= _AMOUNT)
            & (BudgetLine.frozen.is_(False))
            & (BudgetLine.closed_at.is_(None)),
            {"committed": BudgetLine.committed + _AMOUNT},
        ),
        EntryKind.RELEASE: (
            BudgetLine.committed >= _AMOUNT,
            {"committed": BudgetLine.committed - _AMOUNT},
        ),
        EntryKind.SPEND: (
            BudgetLine.committed >= _AMOUNT,
            {"committed": BudgetLine.committed - _AMOUNT, "spent": BudgetLine.spent + _AMOUNT},
        ),
        EntryKind.REFUND: (BudgetLine.spent >= _AMOUNT, {"spent": BudgetLine.spent - _AMOUNT}),
        EntryKind.REDUCE: (_AVAILABLE >= _AMOUNT, {"allocation": BudgetLine.allocation - _AMOUNT}),
    }[kind]


@cache
def _movement(kind: EntryKind) -> Update:
    """The guarded UPDATE of one kind of movement (:move_line, :move_amount), built once;
    it returns the line's new figures, so that nothing reads the locked row again."""
    guard, values = _movement_terms(kind)
    statement = update(BudgetLine).where(BudgetLine.id == bindparam("move_line"))
    if guard is not None:
        statement = statement.where(guard)
    return statement.values(**values).returning(*_FIGURES)


def _move(
    session: Session,
    line: BudgetLine,
    kind: EntryKind,
    amount: int,
    *,
    actor: User | None,
    order_id: int | None,
    reason: str,
) -> BudgetEntry:
    _positive(amount)
    # A Core statement after a flush, as the ORM's own UPDATE would do, without its bookkeeping.
    session.flush()
    row = (
        session.connection()
        .execute(_movement(kind), {"move_line": line.id, "move_amount": amount})
        .first()
    )
    if row is None:
        session.refresh(line)
        if kind is EntryKind.COMMIT and line.frozen:
            raise InsufficientBudget(_l("This budget line is frozen; choose another line."))
        if kind is EntryKind.COMMIT:
            raise InsufficientBudget(
                _l("Not enough budget left on %(code)s.", code=line.account_code)
            )
        raise DomainError(_l("This budget movement does not match the line's totals."))
    for column, value in zip(_FIGURES, row, strict=True):
        set_committed_value(line, column.key, value)
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
    add_event(
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
    # The entry and its event are written by the session's next flush, at the latest when
    # it commits; the entry has no id until then.
    return entry


def allocate(
    session: Session, line: BudgetLine, amount: int, *, actor: User | None, reason: str
) -> BudgetEntry:
    return _move(
        session,
        line,
        EntryKind.ALLOCATE,
        amount,
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
        actor=actor,
        order_id=order_id,
        reason="",
    )


def refund(
    session: Session, line: BudgetLine, amount: int, *, actor: User | None, order_id: int
) -> BudgetEntry:
    """Money a vendor gave back after payment: spending returns to the line."""
    return _move(
        session,
        line,
        EntryKind.REFUND,
        amount,
        actor=actor,
        order_id=order_id,
        reason="refund",
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
            .where(
                BudgetLine.agency_id == agency_id,
                BudgetLine.frozen.is_(False),
                BudgetLine.closed_at.is_(None),
            )
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


def reduce_allocation(
    session: Session, line: BudgetLine, amount: int, *, actor: User | None, reason: str
) -> BudgetEntry:
    """Lower the allocation; never below what is already committed or spent."""
    return _move(
        session,
        line,
        EntryKind.REDUCE,
        amount,
        actor=actor,
        order_id=None,
        reason=reason,
    )


# Managing lines (the budget holder) -------------------------------------------------

ACCOUNT_CODE = re.compile(r"^\d(\.\d{1,2}){4}\.\d{4}$")


def can_manage_budgets(user: User, agency_id: int) -> bool:
    return has_permission(user, "budget:manage", agency_id=agency_id)


def _require_manager(user: User, line_or_agency_id: BudgetLine | int) -> int:
    agency_id = (
        line_or_agency_id.agency_id
        if isinstance(line_or_agency_id, BudgetLine)
        else line_or_agency_id
    )
    if not can_manage_budgets(user, agency_id):
        raise PermissionDenied(_l("Only the agency's budget holder manages its budget lines."))
    return agency_id


def require_open(line: BudgetLine) -> None:
    if line.closed_at is not None:
        raise Conflict(_l("The fiscal year of this line is closed; it can no longer change."))


@dataclass(frozen=True)
class NewBudgetLine:
    account_code: str
    name: str
    activity: str
    fiscal_year: int
    allocation: int


def create_line(session: Session, actor: User, agency_id: int, data: NewBudgetLine) -> BudgetLine:
    _require_manager(actor, agency_id)
    code = data.account_code.strip()
    if not ACCOUNT_CODE.fullmatch(code):
        raise DomainError(
            _l("Write the account code as in the DPA, e.g. 5.1.02.01.01.0052."),
            field="account_code",
        )
    if not data.name.strip():
        raise DomainError(_l("This field is required."), field="name")
    if not 2000 <= data.fiscal_year <= 2100:
        raise DomainError(_l("Enter a fiscal year such as 2026."), field="fiscal_year")
    if session.scalar(
        select(BudgetLine.id).where(
            BudgetLine.agency_id == agency_id,
            BudgetLine.fiscal_year == data.fiscal_year,
            BudgetLine.account_code == code,
        )
    ):
        raise Conflict(
            _l("This account code already has a line for that year."), field="account_code"
        )
    if session.scalar(
        select(BudgetLine.id).where(
            BudgetLine.agency_id == agency_id,
            BudgetLine.fiscal_year == data.fiscal_year,
            BudgetLine.closed_at.is_not(None),
        )
    ):
        raise Conflict(_l("That fiscal year is closed."), field="fiscal_year")
    line = BudgetLine(
        agency_id=agency_id,
        fiscal_year=data.fiscal_year,
        account_code=code,
        name=data.name.strip(),
        activity=data.activity.strip(),
    )
    session.add(line)
    session.flush()
    record_event(
        session,
        actor,
        "budget.create_line",
        "budget_line",
        line.id,
        after={"account_code": code, "fiscal_year": data.fiscal_year},
        agency_id=agency_id,
    )
    if data.allocation:
        allocate(session, line, data.allocation, actor=actor, reason="DPA")
    return line


def change_allocation(
    session: Session, actor: User, line: BudgetLine, new_allocation: int, reason: str
) -> BudgetEntry:
    """Move the allocation to `new_allocation` by a ledger row with the reason (DPA change)."""
    _require_manager(actor, line)
    require_open(line)
    reason = reason.strip()
    if not reason:
        raise DomainError(
            _l("Give the reason for the change (e.g. the DPA amendment)."), field="reason"
        )
    if (
        isinstance(new_allocation, bool)
        or not isinstance(new_allocation, int)
        or new_allocation < 0
    ):
        raise DomainError(
            _l("The allocation must be a whole number of rupiah."), field="allocation"
        )
    difference = new_allocation - line.allocation
    if difference == 0:
        raise DomainError(_l("The allocation is already this amount."), field="allocation")
    if difference > 0:
        return allocate(session, line, difference, actor=actor, reason=reason)
    if -difference > line.available:
        raise InsufficientBudget(
            _l(
                "The allocation cannot go below what is committed and spent (%(used)s).",
                used=rupiah(line.committed + line.spent),
            ),
            field="allocation",
        )
    return reduce_allocation(session, line, -difference, actor=actor, reason=reason)


def set_frozen(session: Session, actor: User, line: BudgetLine, frozen: bool) -> None:
    _require_manager(actor, line)
    require_open(line)
    if line.frozen == frozen:
        return
    line.frozen = frozen
    session.flush()
    record_event(
        session,
        actor,
        "budget.freeze" if frozen else "budget.unfreeze",
        "budget_line",
        line.id,
        before={"frozen": not frozen},
        after={"frozen": frozen},
        agency_id=line.agency_id,
    )


def close_fiscal_year(session: Session, actor: User, agency_id: int, year: int) -> list[BudgetLine]:
    """Close every line of the agency for `year`. Refused while orders still hold money."""
    _require_manager(actor, agency_id)
    lines = list(
        session.scalars(
            select(BudgetLine).where(
                BudgetLine.agency_id == agency_id,
                BudgetLine.fiscal_year == year,
                BudgetLine.closed_at.is_(None),
            )
        )
    )
    if not lines:
        raise Conflict(_l("There is no open line for that year."))
    open_commitments = [line.account_code for line in lines if line.committed]
    if open_commitments:
        raise Conflict(
            _l(
                "Orders still hold committed money on %(codes)s; finish or cancel them first.",
                codes=", ".join(open_commitments),
            )
        )
    now = utcnow()
    for line in lines:
        # Guarded, so that an order committing at this very moment cannot slip onto a
        # closed line: one of the two UPDATEs waits for the other and then finds its
        # condition false.
        result = session.execute(
            update(BudgetLine)
            .where(
                BudgetLine.id == line.id,
                BudgetLine.committed == 0,
                BudgetLine.closed_at.is_(None),
            )
            .values(closed_at=now, frozen=True)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise Conflict(
                _l(
                    "Orders still hold committed money on %(codes)s; finish or cancel them first.",
                    codes=line.account_code,
                )
            )
        session.refresh(line)
        record_event(
            session,
            actor,
            "budget.close_year",
            "budget_line",
            line.id,
            after={"fiscal_year": year, "allocation": line.allocation, "spent": line.spent},
            agency_id=agency_id,
        )
    session.flush()
    return lines

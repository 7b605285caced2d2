"""Reconciliation exceptions: the list of open and explained cases, and finance marking a
case explained with a note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, NotFound, PermissionDenied
from marketplace.finance.exception_kinds import (  # noqa: F401  (part of this module's interface)
    FINDERS,
    KINDS,
    SQL_KINDS,
    Evidence,
    FinanceException,
)
from marketplace.finance.queries import (
    PAGE_SIZE,
    FinanceScope,
    Page,
    is_explained,
    page_number,
)
from marketplace.payments.models import ExplainedException
from marketplace.permissions import has_permission

# The list and explanations -----------------------------------------------------------


@dataclass
class ExceptionList:
    open: list[FinanceException]
    explained: list[FinanceException]

    def count_by_kind(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for item in self.open:
            counts[item.kind] += 1
        return counts


def find_exceptions(
    session: Session,
    scope: FinanceScope,
    *,
    today: date,
    payment_due_days: int,
    kinds: list[str] | None = None,
) -> ExceptionList:
    """Every exception of the scope, split into open ones and those finance explained."""
    found = [
        item
        for kind in kinds or list(KINDS)
        for item in FINDERS[kind](session, scope, today=today, payment_due_days=payment_due_days)
    ]
    explanations = {
        (e.kind, e.subject): e
        for e in session.scalars(
            select(ExplainedException).options(joinedload(ExplainedException.explained_by))
        )
    }
    result = ExceptionList([], [])
    for item in found:
        item.explanation = explanations.get((item.kind, item.subject))
        (result.explained if item.explanation else result.open).append(item)
    return result


def _python_cases(
    session: Session, scope: FinanceScope, kind: str, explained: bool, rules: dict[str, Any]
) -> list[FinanceException]:
    """The cases of a kind found in Python (Stripe's events), open or explained."""
    subjects = set(
        session.scalars(select(ExplainedException.subject).where(ExplainedException.kind == kind))
    )
    return [
        item
        for item in FINDERS[kind](session, scope, **rules)
        if (item.subject in subjects) == explained
    ]


def count_by_kind(
    session: Session,
    scope: FinanceScope,
    *,
    today: date,
    payment_due_days: int,
    explained: bool = False,
    known: dict[str, int] | None = None,
) -> dict[str, int]:
    """How many open (or explained) exceptions of each kind, counted in SQL where the kind
    is found by a query, without loading the cases. `known` holds counts of some kinds the
    caller already has (the overview counts two in its figures' pass)."""
    rules: dict[str, Any] = {"today": today, "payment_due_days": payment_due_days}
    counts = dict.fromkeys(KINDS, 0)
    explained_kinds = set(session.scalars(select(ExplainedException.kind).distinct()))
    for kind in KINDS:
        if known is not None and kind in known:
            counts[kind] = known[kind]
            continue
        if explained and kind not in explained_kinds:
            continue  # nothing of this kind was explained: no need to find its cases
        if kind in SQL_KINDS:
            query, subject = SQL_KINDS[kind].query(scope, **rules)
            condition = is_explained(kind, subject)
            query = query.where(condition if explained else ~condition).order_by(None)
            counts[kind] = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        else:
            counts[kind] = len(_python_cases(session, scope, kind, explained, rules))
    return counts


@dataclass
class ExceptionPage:
    """One page of open or explained exceptions, in the order of KINDS, with the counts of
    each kind over every page."""

    page: Page[FinanceException]
    counts: dict[str, int]


def exception_page(
    session: Session,
    scope: FinanceScope,
    *,
    today: date,
    payment_due_days: int,
    page: int | None = 1,
    explained: bool = False,
    size: int = PAGE_SIZE,
) -> ExceptionPage:
    """The exceptions on one page: the counts per kind say which kinds' rows fall on it, and
    only those rows are read (LIMIT/OFFSET within each kind's query)."""
    rules: dict[str, Any] = {"today": today, "payment_due_days": payment_due_days}
    counts = count_by_kind(session, scope, explained=explained, **rules)
    total = sum(counts.values())
    number = page_number(page, total, size)
    start, end = (number - 1) * size, number * size
    items: list[FinanceException] = []
    seen = 0
    for kind, count in counts.items():
        first, last = max(start - seen, 0), min(end - seen, count)
        seen += count
        if last <= first:
            continue
        if kind in SQL_KINDS:
            query, subject = SQL_KINDS[kind].query(scope, **rules)
            condition = is_explained(kind, subject)
            query = query.where(condition if explained else ~condition)
            rows = session.execute(query.offset(first).limit(last - first))
            items.extend(SQL_KINDS[kind].case(row, **rules) for row in rows)
        else:
            items.extend(_python_cases(session, scope, kind, explained, rules)[first:last])
    if explained and items:
        notes = {
            (e.kind, e.subject): e
            for e in session.scalars(
                select(ExplainedException)
                .where(ExplainedException.subject.in_(sorted({item.subject for item in items})))
                .options(joinedload(ExplainedException.explained_by))
            )
        }
        for item in items:
            item.explanation = notes.get((item.kind, item.subject))
    return ExceptionPage(Page(items, number, total, size), counts)


def can_explain(user: User) -> bool:
    return has_permission(user, "finance:explain")


def explain(
    session: Session,
    actor: User,
    kind: str,
    subject: str,
    note: str,
    *,
    today: date,
    payment_due_days: int,
) -> ExplainedException:
    """Finance records why an exception is in order; it then shows as explained."""
    if not can_explain(actor):
        raise PermissionDenied(_l("Only finance staff can explain exceptions."))
    if kind not in KINDS:
        raise NotFound(_l("No such exception."))
    note = note.strip()
    if not note:
        raise DomainError(_l("Write what you found."), field="note")
    already = session.scalar(
        select(ExplainedException.id).where(
            ExplainedException.kind == kind, ExplainedException.subject == subject
        )
    )
    if already is not None:
        raise Conflict(_l("This exception is already explained."))
    if kind in SQL_KINDS:  # look the one case up rather than finding every case
        current = SQL_KINDS[kind].find(
            session,
            FinanceScope(None),
            subject=subject,
            today=today,
            payment_due_days=payment_due_days,
        )
    else:
        current = FINDERS[kind](
            session, FinanceScope(None), today=today, payment_due_days=payment_due_days
        )
    case = next((item for item in current if item.subject == subject), None)
    if case is None:
        raise NotFound(_l("No such exception."))
    explanation = ExplainedException(
        kind=kind, subject=subject, note=note, explained_by_id=actor.id
    )
    session.add(explanation)
    session.flush()
    record_event(
        session,
        actor,
        "finance.explain",
        "explained_exception",
        explanation.id,
        after={"kind": kind, "subject": subject, "note": note, "amount": case.amount},
        agency_id=case.agency_id,
    )
    return explanation

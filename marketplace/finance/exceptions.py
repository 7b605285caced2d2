"""Reconciliation exceptions: the list of open and explained cases, and finance marking a
case explained with a note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from marketplace.accounts.models import User
from marketplace.audit.services import record_event
from marketplace.errors import Conflict, DomainError, NotFound, PermissionDenied
from marketplace.finance.exception_kinds import (  # noqa: F401  (part of this module's interface)
    FINDERS,
    KINDS,
    Evidence,
    FinanceException,
)
from marketplace.finance.queries import FinanceScope
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

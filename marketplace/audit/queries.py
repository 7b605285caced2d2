"""Searching the audit trail for an auditor, and exporting what a search found (CSV, JSON Lines).

Exports stream in id order, a batch at a time, each batch in a short read of its own, up to the
last event that existed when the export started: memory stays flat and SQLite's write lock is
never held for the length of a download.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from catalog.listings_csv import spreadsheet_safe
from marketplace.accounts.models import AGENCY_ROLES, VENDOR_ROLES, Agency, User
from marketplace.audit.chain import iso_utc
from marketplace.audit.models import AuditEvent
from marketplace.ordering.models import Order
from marketplace.ordering.services import JAKARTA
from marketplace.payments.models import PaymentAllocation
from marketplace.permissions import ROLE_PERMISSIONS
from marketplace.ratings.models import VendorRating

PAGE_SIZE = 50
EXPORT_BATCH = 1000
#: how many changed fields a row of the search shows; the rest is behind "details"
SUMMARY_FIELDS = 6

EXPORT_COLUMNS = (
    "id",
    "chain_seq",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_email",
    "action",
    "object_type",
    "object_id",
    "agency_id",
    "agency_name",
    "vendor_id",
    "before",
    "after",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class EventFilter:
    """What an auditor searched for; every part is optional."""

    order: str = ""
    user: str = ""
    agency_id: int | None = None
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None
    event_id: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == EventFilter()

    def query_args(self) -> dict[str, Any]:
        """The filter as URL arguments (for pages and exports of the same search)."""
        args = {
            "order": self.order,
            "user": self.user,
            "agency": self.agency_id,
            "action": self.action,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "event": self.event_id,
        }
        return {key: value for key, value in args.items() if value not in (None, "")}


@dataclass(frozen=True)
class Conditions:
    where: list[ColumnElement[bool]]
    #: the order the search named, when it named one that exists
    order: Order | None = None
    #: the search named an order that does not exist
    unknown_order: bool = False


def conditions_for(session: Session, wanted: EventFilter) -> Conditions:
    where: list[ColumnElement[bool]] = []
    order = None
    if wanted.order:
        order = find_order(session, wanted.order)
        if order is None:
            return Conditions([false()], unknown_order=True)
        where.append(about_order(order))
    if wanted.user:
        pattern = f"%{_escape_like(wanted.user.strip().lower())}%"
        people = select(User.id).where(
            or_(
                func.lower(User.name).like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
            )
        )
        where.append(AuditEvent.actor_id.in_(people))
    if wanted.agency_id is not None:
        where.append(AuditEvent.agency_id == wanted.agency_id)
    if wanted.action:
        where.append(AuditEvent.action.like(f"{_escape_like(wanted.action)}%", escape="\\"))
    if wanted.date_from is not None:
        where.append(AuditEvent.occurred_at >= _start_of_day(wanted.date_from))
    if wanted.date_to is not None:
        where.append(AuditEvent.occurred_at < _start_of_day(wanted.date_to + timedelta(days=1)))
    if wanted.event_id is not None:
        where.append(AuditEvent.id == wanted.event_id)
    return Conditions(where, order=order)


def visible_to(user: User) -> list[ColumnElement[bool]]:
    """What of the trail `user` may read: all of it through a province-wide role holding
    audit:view (the auditor), else only the agencies' or vendors' events it holds it for."""
    agencies: set[int] = set()
    vendors: set[int] = set()
    for membership in user.memberships:
        if "audit:view" not in ROLE_PERMISSIONS[membership.role]:
            continue
        if membership.role in AGENCY_ROLES and membership.agency_id is not None:
            agencies.add(membership.agency_id)
        elif membership.role in VENDOR_ROLES and membership.vendor_id is not None:
            vendors.add(membership.vendor_id)
        else:
            return []
    return [or_(AuditEvent.agency_id.in_(agencies), AuditEvent.vendor_id.in_(vendors))]


def find_order(session: Session, reference: str) -> Order | None:
    """An order by its number (EO-2026-000042) or its id."""
    reference = reference.strip()
    order = session.scalar(select(Order).where(func.upper(Order.number) == reference.upper()))
    if order is None and reference.isdigit() and len(reference) < 12:
        order = session.get(Order, int(reference))
    return order


def about_order(order: Order) -> ColumnElement[bool]:
    """Events on the order itself, and the budget, payment and rating events it caused."""
    related = [and_(AuditEvent.object_type == "order", AuditEvent.object_id == order.id)]
    if order.budget_line_id is not None:
        related.append(
            and_(
                AuditEvent.object_type == "budget_line",
                AuditEvent.object_id == order.budget_line_id,
                AuditEvent.after["order_id"].as_integer() == order.id,
            )
        )
    related.append(
        and_(
            AuditEvent.object_type == "payment",
            AuditEvent.object_id.in_(
                select(PaymentAllocation.payment_id).where(PaymentAllocation.order_id == order.id)
            ),
        )
    )
    related.append(
        and_(
            AuditEvent.object_type == "vendor_rating",
            AuditEvent.object_id.in_(
                select(VendorRating.id).where(VendorRating.order_id == order.id)
            ),
        )
    )
    return or_(*related)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), JAKARTA).astimezone(UTC)


# One page of the search ------------------------------------------------------------------


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    #: id to pass as `before` for older events, or None on the last page
    older: int | None
    #: id to pass as `after` for newer events, or None on the first page
    newer: int | None


def page_of_events(
    session: Session,
    where: Sequence[ColumnElement[bool]],
    *,
    before: int | None = None,
    after: int | None = None,
) -> EventPage:
    """Newest first, PAGE_SIZE at a time, paged by id (deep pages cost what the first does)."""
    query = select(AuditEvent).where(*where)
    if after is not None:
        rows = list(
            session.scalars(
                query.where(AuditEvent.id > after).order_by(AuditEvent.id).limit(PAGE_SIZE + 1)
            )
        )
        has_newer = len(rows) > PAGE_SIZE
        events = list(reversed(rows[:PAGE_SIZE]))
        has_older = bool(events)
    else:
        if before is not None:
            query = query.where(AuditEvent.id < before)
        rows = list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(PAGE_SIZE + 1)))
        events = rows[:PAGE_SIZE]
        has_older = len(rows) > PAGE_SIZE
        has_newer = before is not None and bool(events)
    return EventPage(
        events=events,
        older=events[-1].id if has_older and events else None,
        newer=events[0].id if has_newer and events else None,
    )


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


def changes(event: AuditEvent) -> tuple[list[Change], int]:
    """The fields the event changed (or set), the first few, and how many there are in all."""
    before = event.before or {}
    after = event.after or {}
    fields = [key for key in (*before, *(k for k in after if k not in before))]
    changed = [
        Change(key, before.get(key), after.get(key))
        for key in fields
        if before.get(key) != after.get(key)
    ]
    return changed[:SUMMARY_FIELDS], len(changed)


def names_for(session: Session, events: Sequence[AuditEvent]) -> dict[str, dict[int, str]]:
    """Agency names, vendor names and order numbers that the page's events refer to."""
    from catalog.models import Vendor

    agency_ids = {e.agency_id for e in events if e.agency_id is not None}
    vendor_ids = {e.vendor_id for e in events if e.vendor_id is not None}
    order_ids = {e.object_id for e in events if e.object_type == "order"}
    names: dict[str, dict[int, str]] = {"agency": {}, "vendor": {}, "order": {}}
    if agency_ids:
        names["agency"] = {
            row.id: row.name
            for row in session.execute(
                select(Agency.id, Agency.name).where(Agency.id.in_(agency_ids))
            )
        }
    if vendor_ids:
        names["vendor"] = {
            row.id: row.trading_name
            for row in session.execute(
                select(Vendor.id, Vendor.trading_name).where(Vendor.id.in_(vendor_ids))
            )
        }
    if order_ids:
        names["order"] = {
            row.id: row.number or f"#{row.id}"
            for row in session.execute(
                select(Order.id, Order.number).where(Order.id.in_(order_ids))
            )
        }
    return names


# Exports -------------------------------------------------------------------------------


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditEvent.id))) or 0)


def _export_query(where: Sequence[ColumnElement[bool]], up_to: int) -> Select[Any]:
    return (
        select(
            AuditEvent.id,
            AuditEvent.chain_seq,
            AuditEvent.occurred_at,
            AuditEvent.actor_id,
            User.name.label("actor_name"),
            User.email.label("actor_email"),
            AuditEvent.action,
            AuditEvent.object_type,
            AuditEvent.object_id,
            AuditEvent.agency_id,
            Agency.name.label("agency_name"),
            AuditEvent.vendor_id,
            AuditEvent.before,
            AuditEvent.after,
            AuditEvent.prev_hash,
            AuditEvent.hash,
        )
        .select_from(AuditEvent)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .outerjoin(Agency, Agency.id == AuditEvent.agency_id)
        .where(*where, AuditEvent.id <= up_to)
        .order_by(AuditEvent.id)
        .limit(EXPORT_BATCH)
    )


def export_records(
    session: Session, where: Sequence[ColumnElement[bool]], up_to: int
) -> Iterator[dict[str, Any]]:
    """The matching events up to id `up_to`, oldest first, one short read per batch."""
    last_id = 0
    while True:
        rows = session.execute(_export_query(where, up_to).where(AuditEvent.id > last_id)).all()
        session.rollback()  # a GET writes nothing; let writers in between batches
        for row in rows:
            record = dict(row._mapping)
            record["occurred_at"] = iso_utc(record["occurred_at"])
            yield record
        if len(rows) < EXPORT_BATCH:
            return
        last_id = rows[-1].id


def csv_chunks(records: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """CSV in UTF-8 with a BOM; text cells cannot run as spreadsheet formulas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield "\ufeff".encode() + _drain(buffer)
    for count, record in enumerate(records, start=1):
        writer.writerow([_csv_cell(record[column]) for column in EXPORT_COLUMNS])
        if count % 200 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def jsonl_chunks(records: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """One JSON object per line, the same fields as the CSV, before/after as objects."""
    lines: list[str] = []
    for record in records:
        lines.append(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
        if len(lines) == 200:
            yield "".join(lines).encode("utf-8")
            lines = []
    yield "".join(lines).encode("utf-8")


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return data.encode("utf-8")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return spreadsheet_safe(json.dumps(value, ensure_ascii=False, sort_keys=True))
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return str(value)

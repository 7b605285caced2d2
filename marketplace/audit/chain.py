"""The hash chain over audit events: sealing at commit, and verifying the whole chain.

`record_event` inserts an event unsealed (no hash) so that the transaction can read it back.
Right before the transaction commits, `seal_pending` takes the chain head under a row lock
(on SQLite, BEGIN IMMEDIATE already serialises writers), gives the transaction's events the
next `chain_seq` numbers in id order, and stores for each

    hash = sha256(prev_hash || canonical JSON of the event's content and chain_seq)

The lock is held only from sealing until commit, so transactions run in parallel until then;
the chain follows commit order. A rolled-back transaction never took numbers, so it leaves no gap.

The canonical JSON is UTF-8, keys sorted, no spaces, of: id, occurred_at (ISO 8601 UTC with
microseconds and "Z"), actor_id, action, object_type, object_id, agency_id, vendor_id, before,
after, chain_seq. The first event's prev_hash is 64 zeros. Migration 0012 seals events written
before the chain existed with the same rule.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from catalog.db import utcnow
from marketplace.audit.models import AuditChainHead, AuditEvent, AuditTrailIsAppendOnly

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
#: committed events still without a hash after this long were written around the hook
UNSEALED_GRACE = timedelta(minutes=5)

# the problems verification can name
HASH_MISMATCH = "hash mismatch"
PREV_HASH_MISMATCH = "prev_hash does not match the previous event's hash"
GAP = "gap"
HEAD_MISMATCH = "chain head does not match the last event"
UNSEALED = "unsealed event"

_events = AuditEvent.__table__
_head = AuditChainHead.__table__
_CONTENT = (
    _events.c.id,
    _events.c.occurred_at,
    _events.c.actor_id,
    _events.c.action,
    _events.c.object_type,
    _events.c.object_id,
    _events.c.agency_id,
    _events.c.vendor_id,
    _events.c.before,
    _events.c.after,
)
#: the event's columns a hash covers (with its chain_seq)
CONTENT_FIELDS = tuple(column.name for column in _CONTENT)
_SEAL = (_events.c.chain_seq, _events.c.prev_hash, _events.c.hash)
_UNSEALED_IDS = "audit_unsealed_ids"
#: the content of events this session wrote, by id, as flushed (see `_written_content`)
_WRITTEN_CONTENT = "audit_written_content"
_IN_CHUNK = 500


# Hashing ------------------------------------------------------------------------------


def iso_utc(value: datetime) -> str:
    """The one way a timestamp is written into the hash: UTC, microseconds, "Z"."""
    if value.tzinfo is None:  # SQLite read outside the model's type: stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(event: Mapping[str, Any], chain_seq: int) -> bytes:
    content = {
        "id": event["id"],
        "occurred_at": iso_utc(event["occurred_at"]),
        "actor_id": event["actor_id"],
        "action": event["action"],
        "object_type": event["object_type"],
        "object_id": event["object_id"],
        "agency_id": event["agency_id"],
        "vendor_id": event["vendor_id"],
        "before": event["before"],
        "after": event["after"],
        "chain_seq": chain_seq,
    }
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def event_hash(prev_hash: str, event: Mapping[str, Any], chain_seq: int) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_content(event, chain_seq))
    return digest.hexdigest()


# Sealing ------------------------------------------------------------------------------


def install(factory: sessionmaker[Session]) -> None:
    """Seal the audit events of every session made by `factory` right before it commits."""
    sa_event.listen(factory, "after_flush", _note_new_events)
    sa_event.listen(factory, "before_commit", _seal_before_commit)
    sa_event.listen(factory, "after_rollback", _forget_on_rollback)
    sa_event.listen(factory, "after_soft_rollback", _forget_content_on_any_rollback)
    sa_event.listen(factory, "do_orm_execute", _refuse_bulk_changes)


def _note_new_events(session: Session, _context: Any) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if not new:
        return
    session.info.setdefault(_UNSEALED_IDS, set()).update(obj.id for obj in new)
    contents = session.info.setdefault(_WRITTEN_CONTENT, {})
    for obj in new:
        content = _written_content(obj)
        if content is not None:
            contents[obj.id] = content


def _written_content(obj: AuditEvent) -> dict[str, Any] | None:
    """The event's content as the database now holds it, as reading it back would give it,
    so that sealing need not read it back; None when that cannot be known for sure."""
    values = obj.__dict__
    if any(name not in values for name in CONTENT_FIELDS):
        return None
    content = {name: values[name] for name in CONTENT_FIELDS}
    try:
        # JSON columns are written with json.dumps; reading back gives what json.loads
        # does. A copy, too: a dict changed after the flush is not what was written.
        for name in ("before", "after"):
            content[name] = json.loads(json.dumps(content[name]))
    except (TypeError, ValueError):
        return None
    return content


def _seal_before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint is released; the commit comes later
        return
    session.flush()  # events still pending would otherwise be inserted after sealing
    seal_pending(session)


def _forget_on_rollback(session: Session) -> None:
    # Events of a rolled-back savepoint are simply not found when sealing; the rest of the
    # transaction still needs its events sealed.
    if not session.in_nested_transaction():
        session.info.pop(_UNSEALED_IDS, None)
        session.info.pop(_WRITTEN_CONTENT, None)


def _forget_content_on_any_rollback(session: Session, _previous: Any) -> None:
    # After any rollback, a savepoint's included, the events are read back from the
    # database when sealing: one rolled back must not be sealed from memory.
    session.info.pop(_WRITTEN_CONTENT, None)


def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == _events.name:
        raise AuditTrailIsAppendOnly("audit events cannot be changed or deleted")


def seal_pending(session: Session) -> int:
    """Seal the events this session inserted and has not sealed yet; returns how many.

    Runs by itself right before commit; the chain head stays locked until the commit.
    """
    ids = sorted(session.info.pop(_UNSEALED_IDS, None) or ())
    written = session.info.pop(_WRITTEN_CONTENT, None) or {}
    if not ids:
        return 0
    connection = session.connection()
    rows: list[Mapping[str, Any]] = [written[id_] for id_ in ids if id_ in written]
    unknown = [id_ for id_ in ids if id_ not in written]
    for start in range(0, len(unknown), _IN_CHUNK):
        chunk = unknown[start : start + _IN_CHUNK]
        rows.extend(
            connection.execute(
                select(*_CONTENT).where(_events.c.id.in_(chunk), _events.c.chain_seq.is_(None))
            ).mappings()
        )
    rows.sort(key=lambda row: row["id"])
    seals = _seal_rows(connection, rows)
    for seal in seals:  # objects loaded in the session show their seal without a reload
        loaded = session.identity_map.get(identity_key(AuditEvent, seal["b_id"]))
        if loaded is not None:
            set_committed_value(loaded, "chain_seq", seal["b_seq"])
            set_committed_value(loaded, "prev_hash", seal["b_prev"])
            set_committed_value(loaded, "hash", seal["b_hash"])
    return len(seals)


def seal_stray_events(session: Session, older_than: timedelta = UNSEALED_GRACE) -> list[int]:
    """Seal committed events that bypassed the commit hook (written by a foreign session),
    at the end of the chain in id order. A repair: the caller commits."""
    connection = session.connection()
    _lock_head(connection)
    cutoff = utcnow() - older_than
    rows = list(
        connection.execute(
            select(*_CONTENT)
            .where(_events.c.chain_seq.is_(None), _events.c.occurred_at < cutoff)
            .order_by(_events.c.id)
        ).mappings()
    )
    return [seal["b_id"] for seal in _seal_rows(connection, rows)]


def _seal_rows(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        return []
    last_seq, last_hash = _lock_head(connection)
    seals = []
    for row in rows:
        last_seq += 1
        digest = event_hash(last_hash, row, last_seq)
        seals.append({"b_id": row["id"], "b_seq": last_seq, "b_prev": last_hash, "b_hash": digest})
        last_hash = digest
    # A Core UPDATE: the mapper's append-only guard is for everybody else.
    connection.execute(_SEAL_EVENT, seals)
    connection.execute(_MOVE_HEAD, {"h_seq": last_seq, "h_hash": last_hash})
    return seals


# Every commit that wrote events runs these: built once.
_SEAL_EVENT = (
    update(_events)
    .where(_events.c.id == bindparam("b_id"), _events.c.chain_seq.is_(None))
    .values(chain_seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
)
_MOVE_HEAD = (
    update(_head)
    .where(_head.c.id == 1)
    .values(last_seq=bindparam("h_seq"), last_hash=bindparam("h_hash"))
)
_LOCK_HEAD = select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == 1).with_for_update()


def _lock_head(connection: Connection) -> tuple[int, str]:
    """The chain head, locked until the transaction ends (FOR UPDATE; SQLite: BEGIN IMMEDIATE)."""
    row = connection.execute(_LOCK_HEAD).first()
    if row is None:
        _create_head(connection)
        row = connection.execute(_LOCK_HEAD).one()
    return int(row.last_seq), str(row.last_hash)


def _create_head(connection: Connection) -> None:
    """Put the head row back (the migration creates it; emptying every table removes it).

    It starts after the last sealed event, if any, so that sealing can go on; a head that
    went missing while events existed is logged, as verification cannot see that anymore.
    """
    last = connection.execute(
        select(_events.c.chain_seq, _events.c.hash)
        .where(_events.c.chain_seq.is_not(None))
        .order_by(_events.c.chain_seq.desc())
        .limit(1)
    ).first()
    values = {"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}
    if last is not None:
        log.warning("audit chain head was missing; restarting it at event %s", last.chain_seq)
        values.update(last_seq=last.chain_seq, last_hash=last.hash or GENESIS_HASH)
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        connection.execute(pg_insert(_head).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        connection.execute(sqlite_insert(_head).values(**values).on_conflict_do_nothing())
    else:
        connection.execute(insert(_head).values(**values))


# Verifying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    """The first place where the chain does not hold."""

    event_id: int | None
    chain_seq: int | None
    problem: str
    detail: str

    def describe(self) -> str:
        where = []
        if self.event_id is not None:
            where.append(f"event {self.event_id}")
        if self.chain_seq is not None:
            where.append(f"chain_seq {self.chain_seq}")
        place = f" at {', '.join(where)}" if where else ""
        return f"{self.problem}{place}: {self.detail}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    #: events whose links and hashes were recomputed and found right
    checked: int
    first_broken: BrokenLink | None
    reason: str | None
    #: the chain_seq checking started from (1 unless only the latest events were checked)
    first_seq: int
    last_seq: int
    last_hash: str
    #: committed events without a seal, older than the grace period (a bypassed hook)
    stale_unsealed: int
    #: events without a seal yet, younger than that (normally: the caller's own, uncommitted)
    pending_unsealed: int


def verify_chain(
    session: Session,
    *,
    batch: int = 5000,
    latest: int | None = None,
    grace: timedelta = UNSEALED_GRACE,
) -> VerifyResult:
    """Recompute the chain in chain_seq order, `batch` events at a time.

    With `latest`, only the last that many events are checked, linked to the stored hash of
    the event just before them. Outside a transaction each batch is read in a short one of its
    own (nothing is written), so that a long verification never holds SQLite's write lock.
    """
    own_transactions = not session.in_transaction()

    def end_read() -> None:
        if own_transactions:
            session.rollback()

    start_seq, expected_prev = 1, GENESIS_HASH
    broken: BrokenLink | None = None
    if latest is not None:
        head_seq, _head_hash = _read_head(session.connection())
        start_seq = max(1, head_seq - latest + 1)
        if start_seq > 1:
            anchor = (
                session.connection()
                .execute(
                    select(_events.c.id, _events.c.hash).where(_events.c.chain_seq == start_seq - 1)
                )
                .first()
            )
            if anchor is None or anchor.hash is None:
                broken = BrokenLink(
                    None, start_seq - 1, GAP, f"chain_seq {start_seq - 1} is missing"
                )
            else:
                expected_prev = anchor.hash

    last_seq, checked = start_seq - 1, 0
    head_ahead_at: int | None = None
    head_seq, head_hash = 0, GENESIS_HASH
    while broken is None:
        rows = (
            session.connection()
            .execute(
                select(*_CONTENT, *_SEAL)
                .where(_events.c.chain_seq > last_seq)
                .order_by(_events.c.chain_seq)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        for row in rows:
            broken = _check_link(row, last_seq + 1, expected_prev)
            if broken is not None:
                break
            last_seq, expected_prev = row["chain_seq"], row["hash"]
            checked += 1
        if broken is not None or len(rows) == batch:
            end_read()
            continue
        head_seq, head_hash = _read_head(session.connection())
        if head_seq > last_seq and head_ahead_at != last_seq:
            head_ahead_at = last_seq  # committed while we read: read on, once from here
            continue
        end_read()
        if head_seq != last_seq or (last_seq > 0 and head_hash != expected_prev):
            broken = BrokenLink(
                None,
                head_seq,
                HEAD_MISMATCH,
                f"the head says chain_seq {head_seq} with hash {head_hash[:12]}…, the last "
                f"event found is chain_seq {last_seq} with hash {expected_prev[:12]}…",
            )
        break

    stale, pending, first_stale = _unsealed(session, grace)
    end_read()
    if broken is None and first_stale is not None:
        broken = BrokenLink(
            first_stale,
            None,
            UNSEALED,
            f"{stale} event(s) committed without a seal, the first is event {first_stale} "
            "(written by a session without the commit hook; `flask audit seal-stray` "
            "chains them)",
        )
    return VerifyResult(
        ok=broken is None,
        checked=checked,
        first_broken=broken,
        reason=broken.problem if broken else None,
        first_seq=start_seq,
        last_seq=last_seq,
        last_hash=expected_prev,
        stale_unsealed=stale,
        pending_unsealed=pending,
    )


def _check_link(row: Mapping[str, Any], expected_seq: int, expected_prev: str) -> BrokenLink | None:
    seq = row["chain_seq"]
    if seq != expected_seq:
        missing = (
            f"chain_seq {expected_seq}"
            if seq == expected_seq + 1
            else f"chain_seq {expected_seq} to {seq - 1}"
        )
        return BrokenLink(row["id"], seq, GAP, f"{missing} missing before this event")
    if row["prev_hash"] != expected_prev:
        return BrokenLink(
            row["id"],
            seq,
            PREV_HASH_MISMATCH,
            f"prev_hash {str(row['prev_hash'])[:12]}…, previous event's hash {expected_prev[:12]}…",
        )
    recomputed = event_hash(row["prev_hash"], row, seq)
    if recomputed != row["hash"]:
        return BrokenLink(
            row["id"],
            seq,
            HASH_MISMATCH,
            f"stored {str(row['hash'])[:12]}…, recomputed {recomputed[:12]}…: the event's "
            "content changed after it was sealed",
        )
    return None


def _read_head(connection: Connection) -> tuple[int, str]:
    row = connection.execute(
        select(_head.c.last_seq, _head.c.last_hash).where(_head.c.id == 1)
    ).first()
    return (int(row.last_seq), str(row.last_hash)) if row else (0, GENESIS_HASH)


def _unsealed(session: Session, grace: timedelta) -> tuple[int, int, int | None]:
    connection = session.connection()
    cutoff = utcnow() - grace
    unsealed = _events.c.chain_seq.is_(None)
    stale_filter = (unsealed, _events.c.occurred_at < cutoff)
    stale, first_stale = connection.execute(
        select(func.count(), func.min(_events.c.id)).where(*stale_filter)
    ).one()
    total = connection.execute(select(func.count()).where(unsealed)).scalar_one()
    return int(stale), int(total) - int(stale), first_stale


def chain_status(session: Session) -> tuple[int, str]:
    """The head of the chain: how many events are sealed, and the last hash."""
    return _read_head(session.connection())


def describe(result: VerifyResult) -> Iterable[str]:
    """Lines for people (the CLI and the log) about a verification."""
    scope = (
        "whole chain"
        if result.first_seq == 1
        else f"chain_seq {result.first_seq} to {result.last_seq}"
    )
    if result.first_broken is None:
        yield (
            f"Audit chain intact ({scope}): {result.checked} event(s) checked; head chain_seq "
            f"{result.last_seq}, hash {result.last_hash}."
        )
    else:
        yield f"Audit chain BROKEN: {result.first_broken.describe()}."
        yield f"{result.checked} event(s) before it were checked and hold ({scope})."
    if result.pending_unsealed:
        yield f"{result.pending_unsealed} recent event(s) not sealed yet (transactions in flight)."

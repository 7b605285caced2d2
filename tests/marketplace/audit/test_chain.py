"""The audit trail is a hash chain: sealed at commit in commit order, and any change shows."""

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from catalog.db import utcnow
from marketplace.audit import chain
from marketplace.audit.models import AuditChainHead, AuditEvent, AuditTrailIsAppendOnly
from marketplace.audit.services import record_event
from tests.marketplace.audit.conftest import is_postgres


def all_events(db):  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.chain_seq, AuditEvent.id)))


def test_events_are_readable_before_commit_and_sealed_at_commit(db, world):
    order = world.order_in(db, "paid")
    pending = all_events(db)
    assert pending and all(e.hash is None and e.chain_seq is None for e in pending)
    assert any(e.object_type == "order" and e.object_id == order.id for e in pending)

    db.commit()

    events = all_events(db)
    assert [e.chain_seq for e in events] == list(range(1, len(events) + 1))
    # one transaction's events are chained in id order, each linked to the one before
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[0].prev_hash == chain.GENESIS_HASH
    for previous, event in itertools.pairwise(events):
        assert event.prev_hash == previous.hash
    head = db.get(AuditChainHead, 1)
    assert (head.last_seq, head.last_hash) == (events[-1].chain_seq, events[-1].hash)


def test_the_hash_covers_the_event_and_its_predecessor(db, world):
    world.order_in(db, "approved")
    db.commit()
    event = all_events(db)[-1]
    row = {column: getattr(event, column) for column in chain.CONTENT_FIELDS}
    assert chain.event_hash(event.prev_hash, row, event.chain_seq) == event.hash
    assert chain.event_hash(chain.GENESIS_HASH, row, event.chain_seq) != event.hash
    assert chain.event_hash(event.prev_hash, row | {"after": {}}, event.chain_seq) != event.hash


def test_each_commit_continues_the_chain(db, world):
    world.order_in(db, "submitted")
    db.commit()
    first = len(all_events(db))
    order = world.order_in(db, "approved")
    db.commit()
    events = all_events(db)
    assert len(events) > first
    assert [e.chain_seq for e in events] == list(range(1, len(events) + 1))
    assert chain.verify_chain(db).ok
    assert order.id


def test_verify_passes_on_a_real_flow(db, world):
    world.order_in(db, "paid")
    world.order_in(db, "rejected")
    db.commit()

    result = chain.verify_chain(db, batch=7)  # several batches

    total = db.scalar(select(func.count()).select_from(AuditEvent))
    assert result.ok, result
    assert (result.checked, result.last_seq, result.first_broken) == (total, total, None)
    assert result.stale_unsealed == result.pending_unsealed == 0


def test_an_empty_trail_verifies(db):
    result = chain.verify_chain(db)
    assert result.ok and result.checked == 0


def test_requests_seal_their_events(client, db, login, world):
    order = world.order_in(db, "submitted")
    db.commit()
    login(world.approver)
    response = client.post(f"/orders/{order.id}/approve")
    assert response.status_code == 302
    [approval] = db.scalars(select(AuditEvent).where(AuditEvent.action == "order.approve"))
    assert approval.hash is not None and approval.chain_seq is not None
    assert chain.verify_chain(db).ok


def test_a_rolled_back_transaction_leaves_no_gap(db, world):
    world.order_in(db, "submitted")
    db.commit()
    sealed = len(all_events(db))

    record_event(db, world.auditor, "test.rolled_back", "order", 1)
    db.rollback()
    record_event(db, world.auditor, "test.kept", "order", 2)
    db.commit()

    events = all_events(db)
    assert [e.action for e in events[sealed:]] == ["test.kept"]
    assert events[-1].chain_seq == sealed + 1
    assert chain.verify_chain(db).ok


def test_a_rolled_back_savepoint_leaves_no_gap(db, world):
    world.order_in(db, "submitted")
    db.commit()
    sealed = len(all_events(db))

    record_event(db, world.auditor, "test.before", "order", 1)
    savepoint = db.begin_nested()
    record_event(db, world.auditor, "test.undone", "order", 2)
    savepoint.rollback()
    with db.begin_nested():
        record_event(db, world.auditor, "test.in_savepoint", "order", 3)
    record_event(db, world.auditor, "test.after", "order", 4)
    db.commit()

    events = all_events(db)[sealed:]
    assert [e.action for e in events] == ["test.before", "test.in_savepoint", "test.after"]
    assert [e.chain_seq for e in events] == [sealed + 1, sealed + 2, sealed + 3]
    assert chain.verify_chain(db).ok


def test_sealing_hashes_what_was_written_even_if_the_dict_changed_after(db, world):
    world.order_in(db, "submitted")
    db.commit()
    after = {"amount": 350_000, "lines": (1, 2), "note": "Nasi kotak · 10"}
    record_event(db, world.auditor, "test.written", "order", 1, after=after)
    after["amount"] = 1  # not tracked by the JSON column: the database keeps 350,000
    db.commit()

    event = all_events(db)[-1]
    db.expire(event)
    assert event.after == {"amount": 350_000, "lines": [1, 2], "note": "Nasi kotak · 10"}
    assert chain.verify_chain(db).ok


def test_a_savepoint_rolled_back_after_a_flush_leaves_no_phantom_in_the_chain(db, world):
    world.order_in(db, "submitted")
    db.commit()
    sealed = len(all_events(db))

    savepoint = db.begin_nested()
    record_event(db, world.auditor, "test.undone", "order", 2)
    savepoint.rollback()
    record_event(db, world.auditor, "test.kept", "order", 3)
    db.commit()

    events = all_events(db)[sealed:]
    assert [e.action for e in events] == ["test.kept"]
    head = db.get(AuditChainHead, 1)
    assert head.last_seq == sealed + 1
    assert chain.verify_chain(db).ok


# Tampering ---------------------------------------------------------------------------------


def test_a_changed_event_is_named(db, world, tamper):
    world.order_in(db, "paid")
    db.commit()
    victim = next(e for e in all_events(db) if e.action == "order.approve")

    tamper(
        "UPDATE audit_events SET after = :after WHERE id = :id",
        after='{"status": "rejected"}',
        id=victim.id,
    )

    result = chain.verify_chain(db)
    assert not result.ok
    assert result.reason == chain.HASH_MISMATCH
    assert (result.first_broken.event_id, result.first_broken.chain_seq) == (
        victim.id,
        victim.chain_seq,
    )
    assert result.checked == victim.chain_seq - 1


def test_a_rehashed_event_breaks_the_next_link(db, world, tamper):
    world.order_in(db, "paid")
    db.commit()
    events = all_events(db)
    victim, successor = events[3], events[4]
    row = {column: getattr(victim, column) for column in chain.CONTENT_FIELDS}
    forged = chain.event_hash(victim.prev_hash, row | {"actor_id": None}, victim.chain_seq)

    tamper(
        "UPDATE audit_events SET actor_id = NULL, hash = :hash WHERE id = :id",
        hash=forged,
        id=victim.id,
    )

    result = chain.verify_chain(db)
    assert result.reason == chain.PREV_HASH_MISMATCH
    assert result.first_broken.event_id == successor.id


def test_a_deleted_event_is_a_gap(db, world, tamper):
    world.order_in(db, "paid")
    db.commit()
    events = all_events(db)
    victim_id, victim_seq = events[2].id, events[2].chain_seq
    successor = events[3]

    tamper("DELETE FROM audit_events WHERE id = :id", id=victim_id)

    result = chain.verify_chain(db)
    assert result.reason == chain.GAP
    assert (result.first_broken.event_id, result.first_broken.chain_seq) == (
        successor.id,
        successor.chain_seq,
    )
    assert f"chain_seq {victim_seq} missing" in result.first_broken.detail


def test_deleting_the_last_events_leaves_the_head_behind(db, world, tamper):
    world.order_in(db, "paid")
    db.commit()
    last_id, last_seq = all_events(db)[-1].id, all_events(db)[-1].chain_seq

    tamper("DELETE FROM audit_events WHERE id = :id", id=last_id)

    result = chain.verify_chain(db)
    assert result.reason == chain.HEAD_MISMATCH
    assert result.first_broken.chain_seq == last_seq


def test_an_event_written_around_the_commit_hook_is_reported_then_repaired(app, db, world):
    world.order_in(db, "submitted")
    db.commit()
    with Session(app.extensions["db_engine"]) as foreign:  # not from the app's sessionmaker
        stray = AuditEvent(
            action="test.stray",
            object_type="order",
            object_id=1,
            occurred_at=utcnow() - timedelta(minutes=10),
        )
        foreign.add(stray)
        foreign.commit()
        stray_id = stray.id

    result = chain.verify_chain(db)
    assert not result.ok
    assert result.reason == chain.UNSEALED
    assert result.first_broken.event_id == stray_id
    assert result.stale_unsealed == 1

    assert chain.seal_stray_events(db) == [stray_id]
    db.commit()
    assert chain.verify_chain(db).ok


def test_a_young_unsealed_event_is_pending_not_broken(db, world):
    world.order_in(db, "submitted")  # not committed: the session's own events
    result = chain.verify_chain(db)
    assert result.ok
    assert result.pending_unsealed > 0


def test_checking_the_latest_events_only(db, world, tamper):
    world.order_in(db, "paid")
    db.commit()
    events = all_events(db)
    tamper(
        "UPDATE audit_events SET object_id = 999 WHERE id = :id",
        id=events[1].id,
    )

    latest = chain.verify_chain(db, latest=3)
    assert latest.ok
    assert (latest.checked, latest.first_seq) == (3, len(events) - 2)

    assert chain.verify_chain(db).first_broken.event_id == events[1].id


# Append-only -------------------------------------------------------------------------------


def test_the_orm_refuses_to_change_or_delete_an_event(db, world):
    world.order_in(db, "submitted")
    db.commit()
    event = all_events(db)[0]

    event.after = {"status": "cancelled"}
    with pytest.raises(AuditTrailIsAppendOnly):
        db.flush()
    db.rollback()

    db.delete(db.get(AuditEvent, event.id))
    with pytest.raises(AuditTrailIsAppendOnly):
        db.flush()
    db.rollback()

    with pytest.raises(AuditTrailIsAppendOnly):
        db.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(action="x"))
    db.rollback()
    with pytest.raises(AuditTrailIsAppendOnly):
        db.execute(delete(AuditEvent))
    db.rollback()

    assert chain.verify_chain(db).ok


def test_the_orm_refuses_to_change_an_unsealed_event(db, world):
    event = record_event(db, world.auditor, "test.event", "order", 1, after={"a": 1})
    event.after = {"a": 2}
    with pytest.raises(AuditTrailIsAppendOnly):
        db.flush()


def test_postgres_refuses_updates_and_deletes(db, world):
    if not is_postgres(db):
        pytest.skip("the append-only trigger exists on PostgreSQL")
    world.order_in(db, "submitted")
    db.commit()
    event = all_events(db)[0]
    statements = [
        "UPDATE audit_events SET after = '{}' WHERE id = :id",
        "UPDATE audit_events SET hash = NULL, prev_hash = NULL, chain_seq = NULL WHERE id = :id",
        "UPDATE audit_events SET hash = repeat('a', 64) WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ]
    for statement in statements:
        with pytest.raises(Exception, match="append-only"):
            db.execute(text(statement), {"id": event.id})
        db.rollback()
    assert chain.verify_chain(db).ok


def test_postgres_allows_only_the_sealing_update_of_an_unsealed_event(db, world):
    if not is_postgres(db):
        pytest.skip("the append-only trigger exists on PostgreSQL")
    event = record_event(db, world.auditor, "test.event", "order", 1, after={"a": 1})
    changing_content = (
        "UPDATE audit_events SET hash = repeat('a', 64), prev_hash = repeat('0', 64),"
        " chain_seq = 999, action = 'forged' WHERE id = :id"
    )
    savepoint = db.begin_nested()
    with pytest.raises(Exception, match="append-only"):
        db.execute(text(changing_content), {"id": event.id})
    savepoint.rollback()

    db.commit()  # the real sealing update goes through
    assert db.get(AuditEvent, event.id).hash is not None
    assert chain.verify_chain(db).ok


def test_postgres_keeps_the_chain_head_moving_forward(db, world):
    if not is_postgres(db):
        pytest.skip("the chain head trigger exists on PostgreSQL")
    world.order_in(db, "submitted")
    db.commit()
    for statement in [
        "UPDATE audit_chain_head SET last_seq = last_seq - 1",
        "UPDATE audit_chain_head SET last_seq = last_seq + 1",  # no such sealed event
        "DELETE FROM audit_chain_head",
    ]:
        with pytest.raises(Exception, match="only moves forward"):
            db.execute(text(statement))
        db.rollback()
    assert chain.verify_chain(db).ok

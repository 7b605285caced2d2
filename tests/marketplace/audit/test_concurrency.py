"""Transactions committing at the same time each seal their events into one unbroken chain.

Each thread works in its own session from the app's sessionmaker, as concurrent requests do.
On PostgreSQL they run in parallel up to the commit, where the chain head's row lock orders
them; on SQLite, BEGIN IMMEDIATE has already serialised them, which proves little.
"""

import threading

import pytest
from sqlalchemy import func, select

from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.audit.services import record_event
from tests.marketplace.audit.conftest import is_postgres

THREADS = 10  # all hold a connection at the barrier: stay inside the pool (5 + 10)
EVENTS_PER_THREAD = 5


def test_racing_transactions_all_seal_without_breaking_the_chain(app, db, world):
    if not is_postgres(db):
        pytest.skip("concurrency proves something on PostgreSQL")
    world.order_in(db, "submitted")
    db.commit()
    before = db.scalar(select(func.count()).select_from(AuditEvent))
    db.commit()

    sessionmaker = app.extensions["db_sessionmaker"]
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(number: int) -> None:
        session = sessionmaker()
        try:
            for step in range(EVENTS_PER_THREAD):
                record_event(session, None, "test.race", "order", number, after={"step": step})
            barrier.wait(timeout=60)  # everybody has inserted; now all commit at once
            session.commit()
            result = "ok"
        except Exception as error:
            session.rollback()
            result = f"error: {error!r}"
        finally:
            session.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcomes == ["ok"] * THREADS
    total = before + THREADS * EVENTS_PER_THREAD
    seqs = list(db.scalars(select(AuditEvent.chain_seq).order_by(AuditEvent.chain_seq)))
    assert seqs == list(range(1, total + 1))
    # each transaction's events sit together in the chain, in its own id order
    race = list(
        db.execute(
            select(AuditEvent.object_id, AuditEvent.id)
            .where(AuditEvent.action == "test.race")
            .order_by(AuditEvent.chain_seq)
        ).all()
    )
    runs = [race[i : i + EVENTS_PER_THREAD] for i in range(0, len(race), EVENTS_PER_THREAD)]
    for run in runs:
        assert len({thread for thread, _id in run}) == 1
        assert [event_id for _thread, event_id in run] == sorted(e for _t, e in run)
    result = chain.verify_chain(db)
    assert result.ok, result
    assert result.checked == total


def test_the_chain_follows_commit_order_not_id_order(app, db, world):
    if not is_postgres(db):
        pytest.skip("on SQLite the first writer holds the lock until it commits")
    sessionmaker = app.extensions["db_sessionmaker"]
    first, second = sessionmaker(), sessionmaker()
    try:
        early = record_event(first, None, "test.early_id", "order", 1)
        late = record_event(second, None, "test.late_id", "order", 2)
        assert early.id < late.id
        second.commit()
        first.commit()
        assert late.chain_seq < early.chain_seq
    finally:
        first.close()
        second.close()
    assert chain.verify_chain(db).ok

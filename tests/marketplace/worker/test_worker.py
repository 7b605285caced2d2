"""`flask worker`: installation-wide jobs run once per period whichever worker asks, a failing
job is noted and the others go on, and the worker keeps its node's search index in step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from catalog.db import utcnow
from marketplace.worker.jobs import INSTALLATION_JOBS, Job, claim, ensure_scheduled, run_claimed
from marketplace.worker.models import ScheduledJob


def _job(db, name: str) -> ScheduledJob:  # type: ignore[no-untyped-def]
    db.expire_all()
    row = db.get(ScheduledJob, name)
    db.commit()
    return row


def test_of_two_workers_asking_at_once_one_gets_the_job(app, db):
    ensure_scheduled(db, INSTALLATION_JOBS)
    job = INSTALLATION_JOBS[0]
    now = utcnow() + timedelta(seconds=1)
    factory = app.extensions["db_sessionmaker"]
    with factory() as first, factory() as second:
        results = [claim(first, job, now, "a:1"), claim(second, job, now, "b:2")]
    assert sorted(results) == [False, True]
    row = _job(db, job.name)
    assert row.last_worker in {"a:1", "b:2"}
    assert row.next_run_at > now


def test_the_worker_runs_what_is_due_once(app, db, world):
    db.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["worker", "--once"])
    assert first.exit_code == 0, first.output
    assert "orders.expire: 0 order(s) expired" in first.output
    assert "notifications.remind:" in first.output
    assert "outbox.digest" not in first.output  # a daily job waits for its hour
    second = runner.invoke(args=["worker", "--once"])
    assert "orders.expire" not in second.output  # not due again yet
    row = _job(db, "orders.expire")
    assert row.last_result == "0 order(s) expired"
    assert row.last_finished_at is not None


def test_a_failing_job_is_noted_and_does_not_stop_the_worker(app, db):
    def broken(session, app):  # type: ignore[no-untyped-def]
        raise RuntimeError("the mail relay refused")

    job = Job("test.broken", broken, timedelta(minutes=1))
    ensure_scheduled(db, (job,))
    assert claim(db, job, utcnow() + timedelta(seconds=1), "a:1")
    outcome = run_claimed(db, job, app)
    assert outcome == "failed: RuntimeError: the mail relay refused"
    assert _job(db, "test.broken").last_result == outcome


def test_a_daily_job_is_due_at_its_hour_in_jakarta():
    digest = next(job for job in INSTALLATION_JOBS if job.name == "outbox.digest")
    before_seven = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 06:00 in Jakarta
    assert digest.next_run(before_seven) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    after_seven = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 08:00 in Jakarta
    assert digest.next_run(after_seven) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)


def test_the_worker_brings_its_nodes_index_in_step(app, db, world, tmp_path, monkeypatch):
    from catalog.search import CatalogIndex
    from tests.support import ProductFactory

    db.commit()
    node_index = tmp_path / "node-index"
    monkeypatch.setitem(app.config, "SEARCH_INDEX_DIR", str(node_index))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0  # first run: a full sync
    product = ProductFactory(vendor=world.vendor, category=world.product.category, name="Onde Onde")
    db.commit()
    db.execute(update(ScheduledJob).values(next_run_at=utcnow() + timedelta(hours=1)))
    db.commit()
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    with CatalogIndex.open(node_index) as index:
        assert product.id in index.search("onde", with_facets=False).ids
    assert db.scalar(select(ScheduledJob.name).where(ScheduledJob.next_run_at < utcnow())) is None

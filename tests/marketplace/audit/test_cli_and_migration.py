"""`flask audit verify`, and migration 0012 sealing the events written before the chain."""

import json
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.db import make_engine
from marketplace.migrate import upgrade


def test_verify_command_passes_on_an_intact_trail(app, db, world):
    world.order_in(db, "paid")
    db.commit()

    result = app.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert "Audit chain intact (whole chain)" in result.output


def test_verify_command_names_the_first_broken_link(app, db, world, tamper):
    world.order_in(db, "paid")
    db.commit()
    victim = list(db.scalars(select(AuditEvent).order_by(AuditEvent.chain_seq)))[4]
    victim_id, victim_seq = victim.id, victim.chain_seq
    tamper("UPDATE audit_events SET vendor_id = NULL WHERE id = :id", id=victim_id)

    result = app.test_cli_runner().invoke(args=["audit", "verify", "--batch", "3"])

    assert result.exit_code == 1
    assert (
        f"Audit chain BROKEN: hash mismatch at event {victim_id}, chain_seq {victim_seq}"
        in result.output
    )
    assert f"{victim_seq - 1} event(s) before it were checked and hold" in result.output


def test_verify_command_names_a_gap(app, db, world, tamper):
    world.order_in(db, "paid")
    db.commit()
    events = list(db.scalars(select(AuditEvent).order_by(AuditEvent.chain_seq)))
    gone, next_id = events[2].chain_seq, events[3].id
    tamper("DELETE FROM audit_events WHERE id = :id", id=events[2].id)

    result = app.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"gap at event {next_id}, chain_seq {gone + 1}: chain_seq {gone} missing" in (
        result.output
    )


def test_migration_seals_the_events_already_there(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'before-0012.sqlite'}")
    upgrade(engine, "0011")
    with engine.begin() as connection:
        for number, after in enumerate(
            [{"status": "submitted"}, {"catatan": "Nasi kuning ✓", "amount": 1_250_000}, None]
        ):
            connection.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, action, object_type, object_id,"
                    " before, after) VALUES (:at, :action, 'order', :id, NULL, :after)"
                ),
                {
                    "at": datetime(2026, 11, 1, 3, 0, number, 123456, tzinfo=UTC).replace(
                        tzinfo=None
                    ),
                    "action": f"order.step{number}",
                    "id": number,
                    "after": json.dumps(after) if after is not None else None,
                },
            )

    upgrade(engine)

    factory = sessionmaker(engine)
    chain.install(factory)
    with factory() as session:
        result = chain.verify_chain(session)
        assert result.ok, result
        assert (result.checked, result.last_seq) == (3, 3)
        # the application continues the chain the migration started
        session.add(AuditEvent(action="order.after_upgrade", object_type="order", object_id=9))
        session.commit()
        result = chain.verify_chain(session)
        assert (result.ok, result.checked) == (True, 4)
    engine.dispose()

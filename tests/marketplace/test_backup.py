"""`flask backup` writes the database and the uploads; restoring it gives the same data back."""

from __future__ import annotations

import json
import tarfile
import uuid

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from marketplace import backup as backups
from marketplace.db import make_engine
from marketplace.ordering.models import Order


def _restore_target(database_url: str, tmp_path):  # type: ignore[no-untyped-def]
    """A fresh, empty database of the same kind to restore into; dropped afterwards."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored.sqlite'}", None
    name = f"eorder_restore_{uuid.uuid4().hex[:8]}"
    parsed = make_url(database_url)
    admin = (
        f"postgresql://{parsed.username or 'postgres'}@{parsed.host}:{parsed.port or 5432}/postgres"
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return str(parsed.set(database=name)), (admin, name)


def test_a_backup_restores_to_the_same_data(app, db, world, tmp_path, database_url):
    world.order_in(db, "paid")
    world.order_in(db, "disputed")
    db.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["backup", "--to", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    [directory] = list((tmp_path / "backups").iterdir())
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["row_counts"]["orders"] == 2
    assert manifest["row_counts"]["issued_documents"] == 2  # the BAST and invoice of one
    with tarfile.open(directory / "uploads.tar.gz") as archive:
        assert all(name.startswith("uploads") for name in archive.getnames())

    target_url, cleanup = _restore_target(database_url, tmp_path)
    try:
        backups.restore_database(directory, target_url)
        restored = make_engine(target_url)
        try:
            assert backups.verify_restore(directory, restored) == []
            with restored.connect() as connection:
                numbers = sorted(connection.execute(select(Order.number)).scalars())
            assert numbers == sorted(o.number for o in db.scalars(select(Order)))
        finally:
            restored.dispose()
    finally:
        if cleanup is not None:
            admin, name = cleanup
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_check_names_what_differs(app, db, world, tmp_path):
    world.order_in(db, "received")
    db.commit()
    directory = backups.backup(
        app.extensions["db_engine"],
        app.config["DATABASE_URL"],
        tmp_path / "no-uploads",
        tmp_path,
    ).directory
    world.order_in(db, "submitted")
    db.commit()
    result = app.test_cli_runner().invoke(args=["backup-check", str(directory)])
    assert result.exit_code == 1
    assert "orders: 2 rows, backup had 1" in result.output


def test_an_in_memory_database_is_not_backed_up(tmp_path):
    engine = make_engine("sqlite://")
    try:
        with pytest.raises(ValueError, match="in-memory"):
            backups.backup(engine, "sqlite://", tmp_path / "none", tmp_path)
    finally:
        engine.dispose()

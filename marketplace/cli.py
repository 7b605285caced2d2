"""Command-line tasks: migrate, seed the demo world, expire unanswered orders."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from marketplace.db import get_engine, get_session


def register_cli(app: Flask) -> None:
    @app.cli.command("db-upgrade")
    def db_upgrade() -> None:
        """Apply all database migrations."""
        from marketplace.migrate import upgrade

        upgrade(get_engine())
        click.echo("Database is up to date.")

    @app.cli.command("backup")
    @click.option(
        "--to",
        "target",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Directory to write the backup into (default: instance/backups).",
    )
    def backup_command(target: Path | None) -> None:
        """Back up the database and the uploaded files, with a manifest of row counts."""
        from marketplace.backup import backup
        from marketplace.config import INSTANCE_DIR

        result = backup(
            get_engine(),
            current_app.config["DATABASE_URL"],
            Path(current_app.config["UPLOAD_DIR"]),
            target or INSTANCE_DIR / "backups",
        )
        rows = sum(result.row_counts.values())
        click.echo(f"Backup written to {result.directory} ({rows} rows).")

    @app.cli.command("backup-check")
    @click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
    def backup_check(directory: Path) -> None:
        """After a restore: compare this database with a backup's manifest (exit 1 if not)."""
        from marketplace.backup import verify_restore

        problems = verify_restore(directory, get_engine())
        for problem in problems:
            click.echo(problem, err=True)
        if problems:
            raise SystemExit(1)
        click.echo("The database holds what the backup holds.")

    @app.cli.command("seed-demo")
    @click.option("--if-empty", is_flag=True, help="Only seed when the database has no users.")
    def seed_demo(if_empty: bool) -> None:
        """Fill the database with a realistic demo world and print its logins."""
        from marketplace.demo import database_is_empty, demo_logins_text, seed

        session = get_session()
        if if_empty and not database_is_empty(session):
            click.echo("The database already has data; the demo world was not added again.")
        else:
            seed(session, current_app.config)
            session.commit()
            click.echo("Demo world created.")
        click.echo(demo_logins_text())

    orders = AppGroup("orders", help="Order housekeeping.")

    @orders.command("expire")
    def expire() -> None:
        """Expire approved orders the vendor did not answer in time (safe to repeat)."""
        from marketplace.ordering.services import expire_unanswered_orders
        from marketplace.web import order_rules

        session = get_session()
        expired = expire_unanswered_orders(session, order_rules())
        session.commit()
        click.echo(f"{len(expired)} order(s) expired.")

    app.cli.add_command(orders)

    catalog_group = AppGroup("catalog", help="Catalogue housekeeping.")

    @catalog_group.command("expire-documents")
    def expire_documents() -> None:
        """Expire vendors' documents past their date and delist what relied on them;
        note the 30- and 7-day warnings. Safe to repeat; run it daily."""
        from catalog.documents import expire_documents as expire
        from marketplace.vendor.documents import record_expiry
        from marketplace.web import today_in_jakarta

        session = get_session()
        report = expire(session, today_in_jakarta())
        record_expiry(session, report)
        session.commit()
        click.echo(
            f"{len(report.expired)} document(s) expired, {len(report.delisted)} listing(s) "
            f"delisted, {len(report.warnings)} warning(s)."
        )

    @catalog_group.command("reindex")
    def reindex() -> None:
        """Rebuild the search index from the database."""
        from marketplace.search import catalog_index

        ok = catalog_index().rebuild(get_session())
        click.echo("Search index rebuilt." if ok else "The search index could not be rebuilt.")
        if not ok:
            raise SystemExit(1)

    @catalog_group.command("sync-search")
    def sync_search() -> None:
        """Repair the search index after missed updates (cheap; run it every few minutes)."""
        from marketplace.search import catalog_index

        ok = catalog_index().sync(get_session())
        click.echo("Search index in step." if ok else "The search index could not be synced.")
        if not ok:
            raise SystemExit(1)

    app.cli.add_command(catalog_group)

    from marketplace.payments.cli import payments_cli

    app.cli.add_command(payments_cli)

    from marketplace.accounts.cli import users_cli
    from marketplace.worker.cli import worker_command

    app.cli.add_command(worker_command)
    from marketplace.audit.cli import audit_cli

    app.cli.add_command(users_cli)

    app.cli.add_command(audit_cli)

    from marketplace.notifications.cli import register as register_notifications_cli

    register_notifications_cli(app)

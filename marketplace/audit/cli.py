"""`flask audit ...`: verify the audit chain (run it daily, and before an audit)."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from marketplace.audit import chain
from marketplace.db import get_session

audit_cli = AppGroup("audit", help="The tamper-evident audit trail.")


@audit_cli.command("verify")
@click.option("--batch", default=5000, show_default=True, help="Events read per query.")
@click.option(
    "--latest", type=int, default=None, help="Check only the last N events (default: all)."
)
@click.option(
    "--grace-minutes",
    default=5,
    show_default=True,
    help="Unsealed events older than this count as a broken trail.",
)
def verify(batch: int, latest: int | None, grace_minutes: int) -> None:
    """Recompute the hash chain; exit 1 and name the first broken link if it does not hold."""
    result = chain.verify_chain(
        get_session(), batch=batch, latest=latest, grace=timedelta(minutes=grace_minutes)
    )
    for line in chain.describe(result):
        click.echo(line, err=not result.ok)
    if not result.ok:
        raise SystemExit(1)


@audit_cli.command("seal-stray")
@click.option("--older-than-minutes", default=5, show_default=True)
def seal_stray(older_than_minutes: int) -> None:
    """Chain committed events that were written without the commit hook (a repair)."""
    session = get_session()
    ids = chain.seal_stray_events(session, timedelta(minutes=older_than_minutes))
    session.commit()
    if ids:
        click.echo(f"{len(ids)} stray event(s) sealed at the end of the chain: {ids}")
    else:
        click.echo("No stray events.")

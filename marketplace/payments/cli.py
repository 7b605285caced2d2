"""Payment housekeeping commands (`flask payments ...`)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.db import get_session

payments_cli = AppGroup("payments", help="Payments: repair missed Stripe webhooks.")


@payments_cli.command("sync")
def sync() -> None:
    """Read open card payments and refunds back from Stripe and apply what Stripe says
    (repairs missed webhooks); send again, with their own keys, refunds Stripe did not
    answer. Safe to repeat; run it every few minutes."""
    from marketplace.payments import card
    from marketplace.payments.stripe_gateway import gateway_from_config

    if not current_app.config.get("STRIPE_SECRET_KEY"):
        click.echo("Stripe is not configured (STRIPE_SECRET_KEY); nothing to sync.")
        return
    session = get_session()
    report = card.sync_payments(session, gateway_from_config(current_app.config))
    session.commit()
    for change in report.changes:
        click.echo(f"changed: {change}")
    for held in report.held:
        click.echo(f"held for finance: {held}")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(
        f"{len(report.changes)} changed, {report.unchanged} unchanged,"
        f" {len(report.held)} held, {len(report.errors)} error(s)."
    )
    if report.errors:
        sys.exit(1)


@payments_cli.command("process-events")
def process_events() -> None:
    """Apply Stripe events that were stored but not applied yet. Safe to repeat."""
    from marketplace.payments import card_events
    from marketplace.payments.stripe_gateway import GatewayError, gateway_from_config

    session = get_session()
    try:
        gateway = gateway_from_config(current_app.config)
    except GatewayError:
        gateway = None
    outcomes = card_events.process_pending_events(session, gateway)
    session.commit()
    for outcome in outcomes:
        click.echo(outcome)
    click.echo(f"{len(outcomes)} event(s) processed.")


@payments_cli.command("rebuild-totals")
def rebuild_totals() -> None:
    """Recompute every order's payment totals and current invoice amounts from the payments,
    allocations, refunds and issued documents, and fill in the per-category received
    amounts of received orders that have none: after rows were written without the services
    (an import, a repair by hand), and once every node runs this release after an upgrade."""
    from sqlalchemy import func, or_, select

    from marketplace.ordering.models import Order
    from marketplace.payments.totals import rebuild_totals as rebuild

    session = get_session()
    rebuild(session)
    session.commit()
    paid, invoiced = session.execute(
        select(
            func.count(Order.id).filter(or_(Order.payment_count > 0, Order.refunded_total > 0)),
            func.count(Order.net_payable),
        )
    ).one()
    click.echo(f"totals rebuilt: {paid} order(s) with payments or refunds, {invoiced} invoiced.")

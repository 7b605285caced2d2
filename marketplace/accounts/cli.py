"""Account tasks for operators: `flask users reset-2fa` for a person who lost their phone."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from marketplace.accounts import services, two_factor
from marketplace.db import get_session
from marketplace.errors import DomainError

users_cli = AppGroup("users", help="Accounts.")


@users_cli.command("reset-2fa")
@click.argument("email")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
def reset_two_factor(email: str, reason: str) -> None:
    """Switch EMAIL's two-step log-in off; they set it up again at their next log-in."""
    db = get_session()
    user = services.find_user_by_email(db, email)
    if user is None:
        raise click.ClickException(f"No account with the e-mail {email}.")
    try:
        two_factor.reset(db, None, user, reason)
    except DomainError as error:
        db.rollback()
        raise click.ClickException(str(error.message)) from None
    db.commit()
    click.echo(f"Two-step log-in of {user.email} is off; their other sessions have ended.")

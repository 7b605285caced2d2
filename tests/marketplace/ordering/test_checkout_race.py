"""A checkout that waits for a change to the same cart submits the cart as changed.

The requester changes a quantity in one tab while submitting in another: the quantity change
holds the order's row until it commits, the checkout waits for it, and must then charge the
budget for the lines as they are, not as they were when it started waiting. On PostgreSQL
the checkout's locking SELECT waits; on SQLite, BEGIN IMMEDIATE makes the checkout start
after the change.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select, text

from marketplace.accounts.models import User
from marketplace.budgets.models import BudgetLine
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from tests.support import budget_line, details_for


def _wait_until_a_session_waits_for_a_lock(app) -> None:  # type: ignore[no-untyped-def]
    engine = app.extensions["db_engine"]
    if engine.dialect.name != "postgresql":
        time.sleep(0.5)  # SQLite: the checkout is waiting at BEGIN IMMEDIATE, or soon will be
        return
    deadline = time.monotonic() + 20
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
            connection.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the checkout never waited for the cart's order")


def test_a_checkout_that_waited_for_a_quantity_change_charges_the_new_quantity(app, db, world):
    price = world.product.price
    line = budget_line(db, world.agency, 100 * price, code="5.1.02.01.01.0098")
    ordering.add_to_cart(db, world.requester, world.product, 10)
    [order] = ordering.cart_orders(db, world.requester)
    order_id, cart_line_id, line_id = order.id, order.lines[0].id, line.id
    db.commit()

    sessionmaker = app.extensions["db_sessionmaker"]
    changer = sessionmaker()
    ordering.set_cart_quantity(changer, changer.get(User, world.requester.id), cart_line_id, 20)
    changer.flush()  # the order's row stays locked until this commits

    outcome: dict[str, object] = {}

    def submit() -> None:
        session = sessionmaker()
        try:
            requester = session.get(User, world.requester.id)
            [submitted] = ordering.checkout(
                session, requester, [order_id], details_for(line), world.rules
            )
            outcome["total"] = submitted.total
            session.commit()
        except Exception as error:
            session.rollback()
            outcome["error"] = repr(error)
        finally:
            session.close()

    submitting = threading.Thread(target=submit)
    submitting.start()
    try:
        _wait_until_a_session_waits_for_a_lock(app)
        changer.commit()
    finally:
        changer.close()
        submitting.join(timeout=60)

    assert outcome == {"total": 20 * price}
    db.expire_all()
    submitted = db.get(Order, order_id)
    assert submitted.total == sum(cart_line.line_total for cart_line in submitted.lines)
    assert [cart_line.quantity for cart_line in submitted.lines] == [20]
    committed = db.scalar(select(BudgetLine.committed).where(BudgetLine.id == line_id))
    assert committed == 20 * price

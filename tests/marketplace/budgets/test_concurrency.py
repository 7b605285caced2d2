"""Many requesters racing for one budget line: it never goes below zero.

Each thread works in its own session and transaction, as concurrent requests do. On
PostgreSQL the guarded UPDATE decides; on SQLite, BEGIN IMMEDIATE serialises the writers.
"""

import threading

from sqlalchemy import func, select

from marketplace.budgets.models import BudgetEntry, EntryKind
from marketplace.errors import InsufficientBudget
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from tests.support import budget_line, details_for

THREADS = 50
FITS = 7


def test_racing_checkouts_commit_exactly_what_fits(app, db, world):
    # One order costs Rp 350.000; the line holds exactly FITS of them.
    line = budget_line(db, world.agency, FITS * 350_000, code="5.1.02.01.01.0099")
    cart_ids = []
    for _ in range(THREADS):
        order = Order(
            agency_id=world.agency.id,
            vendor_id=world.vendor.id,
            requester_id=world.requester.id,
            status=OrderStatus.CART,
        )
        db.add(order)
        db.flush()
        order.lines.append(
            ordering.OrderLine(
                product=world.product,
                product_name="x",
                unit=world.product.unit,
                unit_price=35_000,
                quantity=10,
            )
        )
        order.recompute_total()
        db.flush()
        cart_ids.append(order.id)
    db.commit()

    sessionmaker = app.extensions["db_sessionmaker"]
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit(order_id: int) -> None:
        session = sessionmaker()
        try:
            requester = session.get(type(world.requester), world.requester.id)
            session.commit()  # end the read, so that no thread holds a lock at the barrier
            barrier.wait(timeout=60)
            ordering.checkout(session, requester, [order_id], details_for(line), world.rules)
            session.commit()
            result = "ok"
        except InsufficientBudget:
            session.rollback()
            result = "refused"
        except Exception as error:
            session.rollback()
            result = f"error: {error!r}"
        finally:
            session.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=submit, args=(i,)) for i in cart_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(set(outcomes)) == ["ok", "refused"], outcomes
    assert outcomes.count("ok") == FITS
    db.expire_all()
    db.refresh(line)
    assert line.committed == FITS * 350_000
    assert line.available == 0
    commits = db.scalars(
        select(BudgetEntry.amount).where(
            BudgetEntry.budget_line_id == line.id, BudgetEntry.kind == EntryKind.COMMIT
        )
    ).all()
    assert sum(commits) == line.committed
    assert len(commits) == FITS
    submitted = db.scalar(
        select(func.count()).select_from(Order).where(Order.status == OrderStatus.SUBMITTED)
    )
    assert submitted == FITS

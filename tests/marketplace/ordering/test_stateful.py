"""A stateful property test of the order loop against the budget ledger.

Hypothesis drives random sequences of the real services (submit, approve, reject, decline,
cancel, expire, accept, deliver, receive, dispute and its resolutions) on the real test
database, with two small budget lines so that refusals for insufficient budget are common.
After every step the budget lines must balance, match their ledger rows and match the orders
that encumber or spent them, and the database must agree with the machine's own bookkeeping.

Each example builds its world in a fresh transaction that is only ever flushed; the example
ends with a rollback, so examples never see each other's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.delivery import services as delivery
from marketplace.delivery.services import LineReceipt
from marketplace.errors import DomainError, InsufficientBudget
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.states import COMMITTED_STATUSES, OrderStatus
from tests.support import budget_line, build_world, details_for

PRICE = 35_000
# Small allocations: 40 and 80 boxes, while one order is 1 to 60 boxes.
ALLOCATIONS = (40 * PRICE, 80 * PRICE)

T = TypeVar("T")
S = OrderStatus


@dataclass
class ModelOrder:
    line_id: int
    quantity: int
    total: int
    status: OrderStatus = S.SUBMITTED
    received_total: int | None = None
    deadline: datetime | None = None


def _has(*statuses: OrderStatus) -> Callable[[RuleBasedStateMachine], bool]:
    """A precondition: the machine knows an order in one of these statuses."""
    return lambda machine: bool(machine._ids(*statuses))  # type: ignore[attr-defined]


def test_order_loop_keeps_the_budget_ledger_consistent(db: Session) -> None:
    class OrderLoop(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.orders: dict[int, ModelOrder] = {}
            self.allocation: dict[int, int] = {}
            self.refusals = 0

        def teardown(self) -> None:
            # Nothing was ever committed: this removes every row the example made.
            db.rollback()
            db.expunge_all()

        @initialize()
        def build(self) -> None:
            db.rollback()
            self.world = build_world(db)
            self.lines = [
                budget_line(db, self.world.agency, amount, code=f"5.1.02.01.01.{9000 + i}")
                for i, amount in enumerate(ALLOCATIONS)
            ]
            for line in db.scalars(select(BudgetLine)):
                self.allocation[line.id] = line.allocation

        # Helpers -----------------------------------------------------------------------

        def _in_savepoint(self, call: Callable[[], T]) -> T:
            """Run one service call in a savepoint; a refusal rolls it back entirely."""
            savepoint = db.begin_nested()
            try:
                result = call()
            except DomainError:
                savepoint.rollback()
                raise
            savepoint.commit()
            return result

        def _ids(self, *statuses: OrderStatus) -> list[int]:
            return sorted(i for i, o in self.orders.items() if o.status in statuses)

        def _pick(self, data: st.DataObject, *statuses: OrderStatus) -> tuple[int, Order]:
            order_id = data.draw(st.sampled_from(self._ids(*statuses)), label="order")
            order = db.get(Order, order_id)
            assert order is not None
            return order_id, order

        def _available(self, line_id: int) -> int:
            committed = spent = 0
            for order in self.orders.values():
                if order.line_id != line_id:
                    continue
                if order.status in COMMITTED_STATUSES:
                    committed += order.total
                elif order.received_total is not None:
                    spent += order.received_total
            return self.allocation[line_id] - committed - spent

        def _footprint(self) -> tuple[object, ...]:
            db.flush()
            return (
                db.execute(
                    select(
                        BudgetLine.id, BudgetLine.allocation, BudgetLine.committed, BudgetLine.spent
                    ).order_by(BudgetLine.id)
                ).all(),
                db.scalar(select(func.count()).select_from(BudgetEntry)),
                db.scalar(select(func.count()).select_from(AuditEvent)),
                db.execute(
                    select(Order.id, Order.status, Order.budget_line_id, Order.total).order_by(
                        Order.id
                    )
                ).all(),
            )

        def _receipts(self, data: st.DataObject, order: Order) -> tuple[list[LineReceipt], int]:
            receipts = [
                LineReceipt(
                    line.id,
                    data.draw(
                        st.integers(0, line.quantity) | st.just(line.quantity),
                        label=f"received of line {line.id}",
                    ),
                )
                for line in order.lines
            ]
            by_id = {line.id: line for line in order.lines}
            received = sum(by_id[r.line_id].unit_price * r.quantity_received for r in receipts)
            return receipts, received

        # Rules -------------------------------------------------------------------------

        @rule(
            quantity=st.integers(1, 60),
            line_index=st.sampled_from([0, 1]),
            days=st.integers(2, 6),
        )
        def submit(self, quantity: int, line_index: int, days: int) -> None:
            world, line = self.world, self.lines[line_index]
            ordering.add_to_cart(db, world.requester, world.product, quantity)
            [cart] = ordering.cart_orders(db, world.requester)
            total = quantity * PRICE
            assert cart.total == total
            expect_refusal = self._available(line.id) < total
            before = self._footprint()
            try:
                [order] = self._in_savepoint(
                    lambda: ordering.checkout(
                        db,
                        world.requester,
                        [cart.id],
                        details_for(line, days=days),
                        world.rules,
                    )
                )
            except InsufficientBudget:
                assert expect_refusal, "refused although the line had enough left"
                self.refusals += 1
                # The refusal changed nothing: the cart is intact, no money moved.
                assert self._footprint() == before
                db.expire_all()
                [still] = ordering.cart_orders(db, world.requester)
                assert (still.id, still.status, still.total) == (cart.id, S.CART, total)
                assert still.budget_line_id is None and still.number is None
                ordering.set_cart_quantity(db, world.requester, still.lines[0].id, 0)
                assert ordering.cart_orders(db, world.requester) == []
                return
            assert not expect_refusal, "submitted although the line could not cover it"
            assert (order.status, order.total, order.budget_line_id) == (
                S.SUBMITTED,
                total,
                line.id,
            )
            self.orders[order.id] = ModelOrder(line_id=line.id, quantity=quantity, total=total)

        @precondition(_has(S.SUBMITTED))
        @rule(data=st.data())
        def approve(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.SUBMITTED)
            order = self._in_savepoint(
                lambda: ordering.approve_order(db, self.world.approver, order)
            )
            assert order.status is S.APPROVED
            self.orders[order_id].status = S.APPROVED
            self.orders[order_id].deadline = ordering.acceptance_deadline(order, self.world.rules)

        @precondition(_has(S.SUBMITTED))
        @rule(data=st.data())
        def reject(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.SUBMITTED)
            self._in_savepoint(
                lambda: ordering.reject_order(db, self.world.approver, order, "Tidak sesuai DPA")
            )
            self.orders[order_id].status = S.REJECTED

        @precondition(_has(S.SUBMITTED, S.APPROVED))
        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.SUBMITTED, S.APPROVED)
            self._in_savepoint(
                lambda: ordering.cancel_order(db, self.world.requester, order, "Rapat ditunda")
            )
            self.orders[order_id].status = S.CANCELLED

        @precondition(_has(S.APPROVED))
        @rule(data=st.data())
        def decline(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.APPROVED)
            self._in_savepoint(
                lambda: ordering.decline_order(
                    db, self.world.vendor_owner, order, "Kapasitas penuh"
                )
            )
            self.orders[order_id].status = S.DECLINED

        @precondition(_has(S.APPROVED))
        @rule(data=st.data())
        def expire(self, data: st.DataObject) -> None:
            order_id, _order = self._pick(data, S.APPROVED)
            deadline = self.orders[order_id].deadline
            assert deadline is not None
            now = deadline + timedelta(seconds=1)
            expected = [
                i
                for i in self._ids(S.APPROVED)
                if (d := self.orders[i].deadline) is not None and d <= now
            ]
            expired = self._in_savepoint(
                lambda: ordering.expire_unanswered_orders(db, self.world.rules, now=now)
            )
            assert order_id in expected
            assert sorted(o.id for o in expired) == expected
            for i in expected:
                self.orders[i].status = S.EXPIRED

        @precondition(_has(S.APPROVED))
        @rule(data=st.data())
        def accept(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.APPROVED)
            self._in_savepoint(lambda: ordering.accept_order(db, self.world.vendor_owner, order))
            self.orders[order_id].status = S.ACCEPTED

        @precondition(_has(S.ACCEPTED))
        @rule(data=st.data())
        def deliver(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.ACCEPTED)
            self._in_savepoint(lambda: delivery.deliver_order(db, self.world.vendor_owner, order))
            self.orders[order_id].status = S.DELIVERED

        @precondition(_has(S.DELIVERED))
        @rule(data=st.data())
        def receive(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.DELIVERED)
            receipts, received = self._receipts(data, order)
            order = self._in_savepoint(
                lambda: delivery.receive_order(db, self.world.approver, order, receipts)
            )
            assert order.received_total == received
            self.orders[order_id].status = S.RECEIVED
            self.orders[order_id].received_total = received

        @precondition(_has(S.DELIVERED))
        @rule(data=st.data())
        def dispute(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.DELIVERED)
            self._in_savepoint(
                lambda: delivery.dispute_order(db, self.world.approver, order, "Nasi basi")
            )
            self.orders[order_id].status = S.DISPUTED

        @precondition(_has(S.DISPUTED))
        @rule(data=st.data())
        def resolve_accept(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.DISPUTED)
            receipts, received = self._receipts(data, order)
            order = self._in_savepoint(
                lambda: delivery.resolve_dispute_accept(db, self.world.curator, order, receipts)
            )
            assert order.received_total == received
            self.orders[order_id].status = S.RECEIVED
            self.orders[order_id].received_total = received

        @precondition(_has(S.DISPUTED))
        @rule(data=st.data())
        def resolve_cancel(self, data: st.DataObject) -> None:
            order_id, order = self._pick(data, S.DISPUTED)
            self._in_savepoint(
                lambda: delivery.resolve_dispute_cancel(
                    db, self.world.curator, order, "Vendor mengembalikan dana"
                )
            )
            self.orders[order_id].status = S.CANCELLED

        # Invariants --------------------------------------------------------------------

        @invariant()
        def lines_balance_and_match_their_ledger(self) -> None:
            if not self.allocation:  # before the world is built
                return
            db.flush()
            lines = db.execute(
                select(BudgetLine.id, BudgetLine.allocation, BudgetLine.committed, BudgetLine.spent)
            ).all()
            assert {line_id for line_id, *_ in lines} == set(self.allocation)
            sums: dict[tuple[int, EntryKind], int] = {
                (line_id, kind): amount
                for line_id, kind, amount in db.execute(
                    select(
                        BudgetEntry.budget_line_id, BudgetEntry.kind, func.sum(BudgetEntry.amount)
                    ).group_by(BudgetEntry.budget_line_id, BudgetEntry.kind)
                ).all()
            }
            orders = db.execute(
                select(Order.id, Order.budget_line_id, Order.status, Order.total).where(
                    Order.status != S.CART
                )
            ).all()
            received = dict(
                db.execute(
                    select(Order.id, Order.received_total).where(Order.status == S.RECEIVED)
                ).all()
            )
            # The database agrees with the machine's bookkeeping, order by order.
            assert {
                order_id: (line_id, status, total) for order_id, line_id, status, total in orders
            } == {i: (o.line_id, o.status, o.total) for i, o in self.orders.items()}
            assert received == {
                i: o.received_total for i, o in self.orders.items() if o.status is S.RECEIVED
            }

            for line_id, allocation, committed, spent in lines:
                available = allocation - committed - spent
                assert allocation == self.allocation[line_id]
                assert allocation == available + committed + spent
                assert available >= 0
                assert committed >= 0
                assert spent >= 0

                def entries(kind: EntryKind, line_id: int = line_id) -> int:
                    return sums.get((line_id, kind), 0)

                assert allocation == entries(EntryKind.ALLOCATE)
                assert committed == (
                    entries(EntryKind.COMMIT)
                    - entries(EntryKind.RELEASE)
                    - entries(EntryKind.SPEND)
                )
                assert spent == entries(EntryKind.SPEND)

                assert committed == sum(
                    total
                    for _id, order_line, status, total in orders
                    if order_line == line_id and status in COMMITTED_STATUSES
                )
                assert spent == sum(
                    received[order_id]
                    for order_id, order_line, status, _total in orders
                    if order_line == line_id and status is S.RECEIVED
                )
                assert available == self._available(line_id)

    run_state_machine_as_test(
        OrderLoop,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )

"""Paid and reconciled orders made through the real payment services, and helpers that
seed the odd data a reconciliation must catch."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import update

from catalog.db import utcnow
from marketplace.ordering import services as ordering
from marketplace.ordering.models import ReceivedByCategory
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentAllocation, PaymentRail, PaymentStatus
from marketplace.payments.totals import rebuild_totals

_references = count(1)


def pay(db, world, order, *, amount=None, paid_on=None, partial_reason=""):  # type: ignore[no-untyped-def]
    """Record a treasury transfer for the order (its full outstanding amount by default)."""
    return payments.record_transfer(
        db,
        world.treasurer if order.agency_id == world.agency.id else world.other_treasurer,
        [order],
        payments.TransferDetails(
            reference=f"SP2D-TEST-{next(_references):04d}",
            paid_on=paid_on or payments.jakarta_today(),
            amount=amount if amount is not None else payments.outstanding(db, order),
            payer_account="RKUD",
            withholding_slips=["BP-0001"],
            partial_reason=partial_reason,
        ),
    )


def seed_payment(db, order, amount, *, rail=PaymentRail.TRANSFER, **fields):  # type: ignore[no-untyped-def]
    """A succeeded payment written straight to the tables, as a faulty import or a race
    between rails could leave it: no service would record it. Such an import ends by
    rebuilding the payment totals of the orders it touched, as this does."""
    payment = Payment(
        rail=rail,
        status=PaymentStatus.SUCCEEDED,
        agency_id=order.agency_id,
        vendor_id=order.vendor_id,
        amount=amount,
        paid_on=payments.jakarta_today(),
        reference=fields.pop("reference", f"SEED-{next(_references):04d}"),
        succeeded_at=utcnow(),
        **fields,
    )
    payment.allocations.append(PaymentAllocation(order_id=order.id, amount=amount))
    db.add(payment)
    db.flush()
    rebuild_totals(db, [order.id])
    return payment


def backdate_receipt(db, order, moment):  # type: ignore[no-untyped-def]
    """Move an order's receipt to an earlier moment, with the per-category amounts the
    receipt wrote (as if it had been received then)."""
    order.received_at = moment
    db.execute(
        update(ReceivedByCategory)
        .where(ReceivedByCategory.order_id == order.id)
        .values(received_at=moment)
    )
    db.flush()


class Orders:
    """orders.received() / .paid() / .reconciled(), optionally for the other agency."""

    def __init__(self, db, world) -> None:  # type: ignore[no-untyped-def]
        self.db, self.world = db, world

    def _walker(self, other_agency: bool, other_vendor: bool):  # type: ignore[no-untyped-def]
        walker = self.world
        if other_agency:
            walker = replace(
                walker,
                agency=walker.other_agency,
                line=walker.other_line,
                requester=walker.other_requester,
                approver=walker.other_approver,
            )
        if other_vendor:
            walker = replace(
                walker,
                vendor=walker.other_vendor,
                product=walker.other_product,
                vendor_owner=walker.other_vendor_owner,
            )
        return walker

    def received(  # type: ignore[no-untyped-def]
        self, *, other_agency=False, other_vendor=False, quantity=10, days_ago=0, received_at=None
    ):
        walker = self._walker(other_agency, other_vendor)
        order = walker.order_in(self.db, "received", quantity)
        if days_ago or received_at:
            backdate_receipt(self.db, order, received_at or utcnow() - timedelta(days=days_ago))
        return order

    def paid(self, *, paid_on=None, **kw):  # type: ignore[no-untyped-def]
        order = self.received(**kw)
        pay(self.db, self.world, order, paid_on=paid_on)
        return order

    def reconciled(self, **kw):  # type: ignore[no-untyped-def]
        order = self.paid(**kw)
        ordering.reconcile_order(self.db, self.world.finance, order)
        return order


@pytest.fixture
def orders(db, world):  # type: ignore[no-untyped-def]
    from marketplace.accounts.models import Role
    from tests.support import user_with_roles

    world.other_treasurer = user_with_roles(db, Role.TREASURER, agency=world.other_agency)
    return Orders(db, world)

"""Reconciliation figures: orders received vs invoiced vs paid per agency, payments vs
Stripe's gross, fee and net, and budget ledgers vs the orders charged to them."""

from __future__ import annotations

from sqlalchemy import update

from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind
from marketplace.finance import exceptions, reconciliation
from marketplace.finance.queries import FinanceScope, Period
from marketplace.ordering.models import Order
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentRail, PaymentStatus, Refund, RefundStatus
from marketplace.payments.totals import rebuild_totals
from tests.marketplace.finance.conftest import seed_payment

EVERYWHERE = FinanceScope(None)


def test_orders_received_invoiced_and_paid_per_agency(db, world, orders):
    paid = orders.paid()
    received = orders.received(quantity=4)
    reconciled = orders.reconciled(other_agency=True, quantity=6)
    world.order_in(db, "delivered")  # not received: not counted
    per_agency, total = reconciliation.order_figures(db, EVERYWHERE, None)
    by_agency = {row.agency_id: row for row in per_agency}
    mine = by_agency[world.agency.id]
    net_paid, net_received = payments.net_payable(db, paid), payments.net_payable(db, received)
    assert (mine.received_count, mine.invoiced_count, mine.paid_count) == (2, 2, 1)
    assert mine.received_amount == paid.received_total + received.received_total
    assert mine.invoiced_gross == paid.received_total + received.received_total
    assert mine.net_payable == net_paid + net_received
    assert mine.paid_amount == net_paid
    assert mine.outstanding == net_received
    assert mine.not_invoiced_count == 0
    theirs = by_agency[world.other_agency.id]
    assert (theirs.received_count, theirs.paid_count, theirs.reconciled_count) == (1, 1, 1)
    assert theirs.paid_amount == payments.net_payable(db, reconciled)
    assert total.received_count == 3
    assert total.paid_amount == mine.paid_amount + theirs.paid_amount
    # a refund lowers what was paid and shows what is owed again
    [payment] = payments.payments_of_order(db, paid.id)
    payments.request_refund(db, world.treasurer, payment, paid, 30_000, "Basi", reference="R")
    per_agency, _total = reconciliation.order_figures(
        db, FinanceScope(frozenset({world.agency.id})), None
    )
    [mine] = per_agency
    assert mine.refunded == 30_000
    assert mine.paid_amount == net_paid - 30_000
    assert mine.outstanding == net_received + 30_000


def test_order_figures_follow_the_month_of_receipt(db, world, orders):
    orders.paid()
    today = payments.jakarta_today()
    assert (
        reconciliation.order_figures(db, EVERYWHERE, Period(today.year, today.month))[
            1
        ].received_count
        == 1
    )
    assert reconciliation.order_figures(db, EVERYWHERE, Period(today.year - 1))[0] == []


def test_payments_against_stripe_balance_transactions(db, world, orders):
    transfer_order = orders.paid()
    good, bad, unread = orders.received(), orders.received(), orders.received()
    good_payment = seed_payment(
        db,
        good,
        100_000,
        rail=PaymentRail.CARD,
        fee=3_400,
        net=96_600,
        stripe_balance_transaction_id="txn_1",
        stripe_payment_intent_id="pi_1",
    )
    bad_payment = seed_payment(
        db,
        bad,
        50_000,
        rail=PaymentRail.CARD,
        fee=1_000,
        net=48_000,
        stripe_balance_transaction_id="txn_2",
        stripe_payment_intent_id="pi_2",
    )
    unread_payment = seed_payment(
        db, unread, 20_000, rail=PaymentRail.CARD, stripe_payment_intent_id="pi_3"
    )
    view = reconciliation.payments_vs_stripe(db, EVERYWHERE, None)
    checks = {check.payment.id: check for check in view.card}
    assert checks[good_payment.id].ok
    assert [str(p) for p in checks[bad_payment.id].problems] == [
        "Fee plus net is not the amount charged."
    ]
    assert [str(p) for p in checks[unread_payment.id].problems] == [
        "Stripe's balance transaction is not recorded yet."
    ]
    assert (view.card_gross, view.card_fee, view.card_net) == (170_000, 4_400, 144_600)
    [transfer] = view.transfers
    assert transfer.ok and transfer.payment.order_ids == [transfer_order.id]
    assert view.transfer_total == payments.net_payable(db, transfer_order)
    own = reconciliation.payments_vs_stripe(
        db, FinanceScope(frozenset({world.other_agency.id})), None
    )
    assert own.card == [] and own.transfers == [] and own.payouts == []


def test_payouts_come_from_stripe_events(db, world):
    from datetime import UTC, datetime

    from marketplace.payments.models import StripeEvent

    for event_id, type_, status in [
        ("evt_p1", "payout.created", "pending"),
        ("evt_p2", "payout.paid", "paid"),
    ]:
        db.add(
            StripeEvent(
                id=event_id,
                type=type_,
                stripe_created=datetime(2026, 11, 2, tzinfo=UTC),
                payload={
                    "data": {
                        "object": {
                            "id": "po_1",
                            "amount": 9_660_000,
                            "status": status,
                            "arrival_date": 1793491200,
                        }
                    }
                },
            )
        )
    db.flush()
    [payout] = reconciliation.payouts(db)
    assert (payout["id"], payout["amount"], payout["status"]) == ("po_1", 96_600, "paid")


def test_ledgers_agree_with_orders_until_they_do_not(db, world, orders):
    paid = orders.paid()
    orders.received(quantity=5)
    orders.received(other_agency=True)
    [payment] = payments.payments_of_order(db, paid.id)
    payments.request_refund(db, world.treasurer, payment, paid, 10_000, "Kurang", reference="R")
    checks = {c.line.id: c for c in reconciliation.ledger_vs_orders(db, EVERYWHERE)}
    line = checks[world.line.id]
    assert line.ok and line.orders_count == 2
    assert line.ledger_spent == line.orders_received - 10_000 == line.line.spent
    assert checks[world.other_line.id].ok

    # an order whose received amount was changed without a ledger row
    db.execute(
        update(Order).where(Order.id == paid.id).values(received_total=Order.received_total + 5_000)
    )
    db.expire_all()
    line = {c.line.id: c for c in reconciliation.ledger_vs_orders(db, EVERYWHERE)}[world.line.id]
    assert not line.ok and line.difference == -5_000 and line.counter_difference == 0

    # a ledger row written without moving the line's running total
    db.add(BudgetEntry(budget_line_id=world.other_line.id, kind=EntryKind.SPEND, amount=7_000))
    db.flush()
    other = {c.line.id: c for c in reconciliation.ledger_vs_orders(db, EVERYWHERE)}[
        world.other_line.id
    ]
    assert (other.difference, other.counter_difference) == (7_000, -7_000)
    assert not other.ok
    # treasurers see their own lines only
    own = reconciliation.ledger_vs_orders(db, FinanceScope(frozenset({world.agency.id})))
    assert {c.line.agency_id for c in own} == {world.agency.id}
    assert reconciliation.ledger_vs_orders(db, EVERYWHERE, fiscal_year=1999) == []
    assert db.get(BudgetLine, world.line.id)


def test_reconcile_checks_and_explained_differences(db, world, orders):
    from marketplace.finance import exceptions

    good = orders.paid()
    short = orders.received()
    payments_short = payments.outstanding(db, short) - 1_000
    from tests.marketplace.finance.conftest import pay

    pay(db, world, short, amount=payments_short, partial_reason="Denda")
    seed_payment(db, short, 500)  # still 500 short, but the order is not fully paid yet
    checks = {c.order.id: c for c in reconciliation.reconcile_checks(db, EVERYWHERE)}
    assert list(checks) == [good.id]
    assert checks[good.id].ok and checks[good.id].invoice_id and checks[good.id].bast_id

    odd = orders.paid()
    [payment] = payments.payments_of_order(db, odd.id)
    payments.request_refund(db, world.treasurer, payment, odd, 2_000, "Selisih", reference="R")
    check = {c.order.id: c for c in reconciliation.reconcile_checks(db, EVERYWHERE)}[odd.id]
    assert not check.ok and not check.amounts_match
    exceptions.explain(
        db,
        world.finance,
        "amount_mismatch",
        f"order:{odd.id}",
        "Potongan denda disepakati",
        today=payments.jakarta_today(),
        payment_due_days=14,
    )
    check = {c.order.id: c for c in reconciliation.reconcile_checks(db, EVERYWHERE)}[odd.id]
    assert check.ok and check.mismatch_explained
    reconciliation.reconcile(db, world.finance, odd, EVERYWHERE)
    assert odd.status.value == "reconciled"


def test_reconciling_reads_the_documents_and_payments_not_the_copies(db, world, orders):
    """A paid order whose copied figures lag (an import or a node on the previous release
    wrote its payment or invoice) is reconciled on what its rows say."""
    order = orders.paid()
    db.execute(
        update(Order)
        .where(Order.id == order.id)
        .values(paid_total=0, payment_count=0, full_payment_count=0, net_payable=1)
    )
    db.expire_all()
    [check] = reconciliation.reconcile_checks(db, EVERYWHERE, [order.id])
    assert check.ok and check.amounts_match
    assert check.paid == check.net_payable == payments.net_payable(db, order) > 0
    reconciliation.reconcile(db, world.finance, order, EVERYWHERE)
    assert order.status.value == "reconciled"


def test_a_refunded_held_card_charge_is_no_mismatch_and_no_ledger_difference(db, world, orders):
    """A card charge that arrived after the order was paid by transfer is held and refunded:
    it paid the vendor nothing and gave nothing back, so the order is paid as invoiced and
    its budget line's ledger matches its orders."""
    order = orders.paid()
    held = seed_payment(db, order, 50_000, rail=PaymentRail.CARD, stripe_session_id="cs_late")
    held.status = PaymentStatus.HELD
    db.add(
        Refund(
            payment_id=held.id,
            order_id=order.id,
            amount=50_000,
            reason="Tagihan kartu terlambat",
            status=RefundStatus.SUCCEEDED,
        )
    )
    db.flush()
    rebuild_totals(db, [order.id])
    _per_agency, _total, counts = reconciliation.overview_figures(db, EVERYWHERE, None)
    assert counts["amount_mismatch"] == 0
    [check] = reconciliation.reconcile_checks(db, EVERYWHERE, [order.id])
    assert check.amounts_match
    line = {c.line.id: c for c in reconciliation.ledger_vs_orders(db, EVERYWHERE)}[world.line.id]
    assert line.refunded == 0 and line.ok


def test_the_overview_counts_mismatches_and_duplicates_as_the_exception_list(db, world, orders):
    mismatch = orders.paid()
    payment = payments.payments_of_order(db, mismatch.id)[0]
    payments.request_refund(db, world.treasurer, payment, mismatch, 25_000, "Basi", reference="R")
    explained_mismatch = orders.reconciled(other_agency=True)
    seed_payment(db, explained_mismatch, 1_000)  # paid more, and then a duplicate too
    duplicate = orders.paid()
    seed_payment(db, duplicate, payments.net_payable(db, duplicate))
    not_received = world.order_in(db, "delivered")  # paid twice without receipt
    seed_payment(db, not_received, 300_000)
    seed_payment(db, not_received, 300_000)
    partial = orders.received()
    seed_payment(db, partial, 100_000, partial_reason="Dana bertahap")  # not a duplicate
    today = payments.jakarta_today()
    for kind in ("amount_mismatch", "duplicate_payment"):
        exceptions.explain(
            db,
            world.finance,
            kind,
            f"order:{explained_mismatch.id}",
            "Diperiksa",
            today=today,
            payment_due_days=14,
        )
    rules = {"today": today, "payment_due_days": 14}
    for scope in (EVERYWHERE, FinanceScope(frozenset({world.agency.id}))):
        per_agency, total, counted = reconciliation.overview_figures(db, scope, None)
        assert (per_agency, total) == reconciliation.order_figures(db, scope, None)
        listed = exceptions.count_by_kind(db, scope, **rules)
        assert counted == {
            "amount_mismatch": listed["amount_mismatch"],
            "duplicate_payment": listed["duplicate_payment"],
        }
        assert exceptions.count_by_kind(db, scope, known=counted, **rules) == listed
    assert counted == {"amount_mismatch": 2, "duplicate_payment": 2}
    # a month chosen: the figures are of the month, the exceptions counted on their own
    month = Period(today.year, today.month)
    assert reconciliation.overview_figures(db, EVERYWHERE, month)[2] == {}

"""10,000 signed Stripe webhook deliveries (1,000 events, 10 copies each, shuffled, from 16
threads at once, over real HTTP to the app served by a threaded server) have exactly 1,000
effects: each payment settled once, each order paid once, one stored event per id.

PostgreSQL only: SQLite serialises every writer, which proves nothing about concurrency.
EORDER_FLOOD_EVENTS sets a smaller number of events for a quick run.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select, text
from werkzeug.serving import make_server

from marketplace.all_models import metadata
from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry, EntryKind
from marketplace.delivery import services as delivery
from marketplace.ordering import services as ordering
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentStatus, StripeEvent
from marketplace.payments.stripe_gateway import payment_metadata
from tests.fakes.stripe_server import sign
from tests.reliability.commit_blocker import LEDGER_MISMATCHES
from tests.support import budget_line, details_for

EVENTS = int(os.environ.get("EORDER_FLOOD_EVENTS", "1000"))
COPIES = 10
THREADS = 16
PORT = 5317
WEBHOOK = "/payments/stripe/webhook"
SECRET = "whsec_flood_test_secret"


def received_order_paying_by_card(db, world) -> Payment:  # type: ignore[no-untyped-def]
    """One received order with a pending card payment whose Checkout Session was created,
    built through the services as the people would."""
    line = budget_line(db, world.agency, EVENTS * 100_000, code="5.1.02.01.01.0099")
    ordering.add_to_cart(db, world.requester, world.product, 1)
    [order] = ordering.checkout(
        db,
        world.requester,
        [o.id for o in ordering.cart_orders(db, world.requester)],
        details_for(line),
        world.rules,
    )
    ordering.approve_order(db, world.approver, order)
    ordering.accept_order(db, world.vendor_owner, order)
    delivery.deliver_order(db, world.vendor_owner, order)
    delivery.receive_order(
        db, world.approver, order, [delivery.LineReceipt(ln.id, ln.quantity) for ln in order.lines]
    )
    payment = payments.start_card_payment(db, world.treasurer, [order])
    payment.stripe_session_id = "cs_test_flood_00000"  # as Stripe answered
    db.flush()
    return payment


def _clone(db, table: str, where: str, copies: int, overrides: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Insert `copies` copies of the rows of `table` matching `where`, with fresh ids above
    the current ones (copy g of row s gets base + (g - 1) * span + s.id - first + 1).

    Table and column names come from the models, the expressions from this module.
    """
    span_sql = f"SELECT min(id), max(id) FROM {table} s WHERE {where}"  # noqa: S608
    first, last = db.execute(text(span_sql)).one()
    base = db.scalar(text(f"SELECT max(id) FROM {table}"))  # noqa: S608
    expressions = {"id": f"{base} + (g - 1) * {last - first + 1} + s.id - {first} + 1"}
    expressions.update(overrides)
    columns = [column.name for column in metadata.tables[table].columns]
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(expressions.get(c, f's."{c}"') for c in columns)
    insert = (
        f"INSERT INTO {table} ({names}) SELECT {values}"  # noqa: S608
        f" FROM {table} s CROSS JOIN generate_series(1, {copies}) AS g WHERE {where}"
    )
    db.execute(text(insert))
    sequence = f"pg_get_serial_sequence('{table}', 'id')"
    db.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))"))  # noqa: S608


def received_orders_paying_by_card(db, world, count: int) -> list[Payment]:  # type: ignore[no-untyped-def]
    """`count` received orders with pending card payments: one made through the services, the
    others its copies in bulk (orders, lines, ledger rows, BAST and invoice with the next
    numbers, payments and their allocations), with the budget totals and document counters
    moved as the services would have moved them. Building each through the services would
    take minutes; the copies hold the same rows."""
    template = received_order_paying_by_card(db, world)
    order_id = template.allocations[0].order_id
    line_id = db.get(Order, order_id).budget_line_id
    order_base = db.scalar(text("SELECT max(id) FROM orders"))
    payment_base = db.scalar(text("SELECT max(id) FROM payments"))
    assert (order_base, payment_base) == (order_id, template.id)
    copies = count - 1
    new_order = f"{order_base} + g"
    _clone(db, "orders", f"s.id = {order_id}", copies, {
        "number": "s.number || '-' || lpad(g::text, 5, '0')"})  # fmt: skip
    _clone(db, "order_lines", f"s.order_id = {order_id}", copies, {"order_id": new_order})
    _clone(db, "budget_entries", f"s.order_id = {order_id}", copies, {"order_id": new_order})
    _clone(db, "issued_documents", f"s.order_id = {order_id}", copies, {
        "order_id": new_order,
        "sequence": "s.sequence + g",
        "number": "regexp_replace(s.number, '[0-9]+$', lpad((s.sequence + g)::text, 5, '0'))",
    })  # fmt: skip
    _clone(db, "payments", f"s.id = {template.id}", copies, {
        "idempotency_key": "s.idempotency_key || '-' || g",
        "stripe_session_id": "'cs_test_flood_' || lpad(g::text, 5, '0')",
    })  # fmt: skip
    _clone(db, "payment_allocations", f"s.payment_id = {template.id}", copies, {
        "payment_id": f"{payment_base} + g", "order_id": new_order})  # fmt: skip
    db.execute(
        text(
            "UPDATE document_counters c SET last_number = last_number + :copies"
            " FROM issued_documents d WHERE d.order_id = :order"
            " AND (c.agency_id, c.year, c.kind) = (d.agency_id, d.year, d.kind)"
        ),
        {"copies": copies, "order": order_id},
    )
    db.execute(
        text(
            "UPDATE budget_lines SET"
            " committed = committed + :copies * (SELECT coalesce(sum(CASE kind"
            "   WHEN 'commit' THEN amount WHEN 'release' THEN -amount WHEN 'spend' THEN -amount"
            "   ELSE 0 END), 0) FROM budget_entries WHERE order_id = :order),"
            " spent = spent + :copies * (SELECT coalesce(sum(CASE kind WHEN 'spend'"
            "   THEN amount ELSE 0 END), 0) FROM budget_entries WHERE order_id = :order)"
            " WHERE id = :line"
        ),
        {"copies": copies, "order": order_id, "line": line_id},
    )
    db.expire_all()
    return list(db.scalars(select(Payment).where(Payment.id >= template.id).order_by(Payment.id)))


def completed_event(payment: Payment, n: int) -> dict:
    """Stripe's checkout.session.completed for the payment's session, paid in full."""
    session = {
        "id": payment.stripe_session_id,
        "object": "checkout.session",
        "amount_total": payment.amount * 100,
        "currency": "idr",
        "client_reference_id": f"payment-{payment.id}",
        "metadata": payment_metadata(payment),
        "mode": "payment",
        "payment_intent": f"pi_test_flood_{n:05d}",
        "payment_status": "paid",
        "status": "complete",
    }
    return {
        "id": f"evt_test_flood_{n:05d}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "type": "checkout.session.completed",
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": session},
    }


def deliver_all(bodies: list[bytes], threads: int) -> list[tuple[int, bytes]]:
    """POST every body (signed as it is sent, as Stripe does) from `threads` threads."""
    results: list[tuple[int, bytes]] = [(0, b"")] * len(bodies)
    next_index = iter(range(len(bodies)))
    take = threading.Lock()

    def work() -> None:
        while True:
            with take:
                index = next(next_index, None)
            if index is None:
                return
            body = bodies[index]
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(body, SECRET),
            }
            connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
            try:
                connection.request("POST", WEBHOOK, body=body, headers=headers)
                response = connection.getresponse()
                results[index] = (response.status, response.read())
            finally:
                connection.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


def test_ten_thousand_deliveries_of_a_thousand_events_have_a_thousand_effects(
    app, db, world, monkeypatch, postgres
):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_TOLERANCE", 300)
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "")  # no calls back to Stripe
    started = time.monotonic()
    pending = received_orders_paying_by_card(db, world, EVENTS)
    events = [completed_event(payment, n) for n, payment in enumerate(pending)]
    order_ids = [payment.allocations[0].order_id for payment in pending]
    db.commit()
    entries_before = db.scalar(select(func.count()).select_from(BudgetEntry))
    prepared = time.monotonic() - started

    bodies = [json.dumps(event).encode() for event in events for _ in range(COPIES)]
    random.Random(8).shuffle(bodies)
    server = make_server("127.0.0.1", PORT, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        started = time.monotonic()
        results = deliver_all(bodies, THREADS)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        serving.join()
        server.server_close()

    statuses = Counter(status for status, _body in results)
    answers = [json.loads(body) for status, body in results if 200 <= status < 300]
    first_deliveries = sum(1 for answer in answers if not answer["duplicate"])
    db.expire_all()
    settled = db.scalar(
        select(func.count())
        .select_from(Payment)
        .where(Payment.id.in_([p.id for p in pending]), Payment.status == PaymentStatus.SUCCEEDED)
    )
    paid = db.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.id.in_(order_ids), Order.status == OrderStatus.PAID)
    )
    pay_events = Counter(
        db.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "order.pay"))
    )
    succeed_events = Counter(
        db.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "payment.succeed"))
    )
    stored = Counter(db.scalars(select(StripeEvent.id)))
    unprocessed = db.scalar(
        select(func.count()).select_from(StripeEvent).where(StripeEvent.processed_at.is_(None))
    )
    spends = Counter(
        db.scalars(select(BudgetEntry.order_id).where(BudgetEntry.kind == EntryKind.SPEND))
    )
    entries_after = db.scalar(select(func.count()).select_from(BudgetEntry))
    mismatches = db.execute(text(LEDGER_MISMATCHES)).scalar()
    print(
        f"\n{len(results):,} deliveries from {THREADS} threads, {len(stored):,} distinct events,"
        f" {settled:,} payments settled, {paid:,} orders paid,"
        f" {sum(pay_events.values()) - len(pay_events)} duplicate effects,"
        f" statuses {dict(statuses)}; {elapsed:.1f} s delivering"
        f" ({len(results) / elapsed:.0f}/s), {prepared:.1f} s preparing"
    )

    assert len(results) == EVENTS * COPIES
    assert set(statuses) == {200}, statuses
    assert first_deliveries == EVENTS
    assert settled == EVENTS
    assert paid == EVENTS
    assert set(pay_events) == set(order_ids) and set(pay_events.values()) == {1}
    assert set(succeed_events) == {p.id for p in pending} and set(succeed_events.values()) == {1}
    assert set(stored) == {event["id"] for event in events} and set(stored.values()) == {1}
    assert unprocessed == 0
    assert all(spends[order_id] == 1 for order_id in order_ids)
    assert entries_after == entries_before  # paying moves no budget: receipt spent it, once
    assert mismatches == 0


@pytest.fixture(autouse=True)
def _quiet_server_log(monkeypatch):  # type: ignore[no-untyped-def]
    # werkzeug logs every request at INFO; 10,000 lines would drown the report
    import logging

    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", True)

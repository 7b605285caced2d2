"""Paying received orders by treasury transfer: what is owed, full, batch and partial
payments, the checks on each, proof files, refunds back to the budget, and what the vendor
sees."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from catalog.db import utcnow
from marketplace.audit.models import AuditEvent
from marketplace.budgets.models import BudgetEntry, EntryKind
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from marketplace.payments import services as payments
from marketplace.payments.models import ClosedPeriod, Payment, PaymentStatus
from tests.marketplace.ordering.test_services import assert_line_matches_ledger
from tests.support import pay_by_transfer

TODAY = payments.jakarta_today()


def details(amount: int, **overrides) -> payments.TransferDetails:  # type: ignore[no-untyped-def]
    values = dict(
        reference="SP2D-2026-0001",
        paid_on=TODAY,
        amount=amount,
        payer_account="RKUD Provinsi DKI Jakarta",
        withholding_slips=("BP-23-0001",),
    )
    values.update(overrides)
    return payments.TransferDetails(**values)


def form(amount: int, **overrides) -> dict[str, object]:  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "reference": "SP2D-2026-0001",
        "paid_on": TODAY.isoformat(),
        "amount": str(amount),
        "payer_account": "RKUD Provinsi DKI Jakarta",
        "withholding_slips": "BP-23-0001\nBP-23-0002",
        "partial_reason": "",
    }
    values.update(overrides)
    return values


def test_what_is_owed_is_the_invoice_net_payable(db, world):
    order = world.order_in(db, "received")
    # A caterer without NPWP: PPh 23 at 4% is withheld from Rp 350.000.
    assert payments.net_payable(db, order) == 350_000 - 14_000
    assert payments.outstanding(db, order) == 336_000
    [row] = payments.payable_orders(db, world.treasurer, 14)
    assert (row.order, row.outstanding, row.overdue) == (order, 336_000, False)
    assert payments.payable_orders(db, world.approver, 14) == []


def test_a_full_transfer_pays_the_order_and_leaves_the_ledger_alone(db, world):
    order = world.order_in(db, "received")
    db.refresh(world.line)
    spent = world.line.spent
    entries = db.scalar(select(func.count()).select_from(BudgetEntry))
    payment = payments.record_transfer(db, world.treasurer, [order], details(336_000))
    assert payment.status is PaymentStatus.SUCCEEDED
    assert order.status is OrderStatus.PAID and order.paid_at is not None
    assert payment.withholding_slips == ["BP-23-0001"]
    db.refresh(world.line)
    assert world.line.spent == spent  # spending happened at receipt
    assert db.scalar(select(func.count()).select_from(BudgetEntry)) == entries
    actions = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["payment.succeed", "order.pay"]


def test_one_transfer_pays_a_batch_of_one_vendor(client, login, db, world):
    first, second = world.order_in(db, "received"), world.order_in(db, "received")
    db.commit()
    login(world.treasurer)
    page = client.get("/payments/").get_data(as_text=True)
    assert first.reference in page and second.reference in page
    response = client.post(
        "/payments/transfer", data={**form(672_000), "orders": [first.id, second.id]}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.expire_all()
    [payment] = db.scalars(select(Payment)).all()
    assert sorted((a.order_id, a.amount) for a in payment.allocations) == [
        (first.id, 336_000),
        (second.id, 336_000),
    ]
    assert {db.get(Order, o.id).status for o in (first, second)} == {OrderStatus.PAID}
    assert payment.withholding_slips == ["BP-23-0001", "BP-23-0002"]


def test_a_batch_is_for_one_vendor(db, world):
    first = world.order_in(db, "received")
    second = world.order_in(db, "received")
    second.vendor_id = world.other_vendor.id  # as if it had been ordered from another vendor
    db.flush()
    with pytest.raises(DomainError, match="one vendor"):
        payments.record_transfer(db, world.treasurer, [first, second], details(1))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"amount": 336_001}, "amount", "is more"),
        ({"amount": 0}, "amount", "in rupiah"),
        ({"amount": 100_000}, "partial_reason", "partial payment"),
        ({"reference": "  "}, "reference", "reference"),
        ({"paid_on": TODAY + timedelta(days=1)}, "paid_on", "future"),
    ],
)
def test_bad_transfers_are_refused_and_change_nothing(db, world, overrides, field, message):
    order = world.order_in(db, "received")
    values = {"amount": 336_000, **overrides}
    amount = values.pop("amount")
    with pytest.raises(DomainError, match=message) as caught:
        payments.record_transfer(db, world.treasurer, [order], details(amount, **values))
    assert caught.value.field == field
    assert order.status is OrderStatus.RECEIVED


def test_a_partial_payment_is_explained_and_completed_later(db, world):
    order = world.order_in(db, "received")
    payments.record_transfer(
        db,
        world.treasurer,
        [order],
        details(200_000, partial_reason="Sisa menunggu SP2D berikutnya"),
    )
    assert order.status is OrderStatus.RECEIVED
    assert payments.outstanding(db, order) == 136_000
    payments.record_transfer(
        db, world.treasurer, [order], details(136_000, reference="SP2D-2026-0002")
    )
    assert order.status is OrderStatus.PAID
    assert payments.amount_paid(db, order.id) == 336_000


def test_a_paid_order_and_a_reused_reference_are_refused(db, world):
    order = world.order_in(db, "received")
    payments.record_transfer(db, world.treasurer, [order], details(336_000))
    with pytest.raises(Conflict):
        payments.record_transfer(db, world.treasurer, [order], details(1, reference="X"))
    other = world.order_in(db, "received")
    with pytest.raises(Conflict, match="already recorded"):
        payments.record_transfer(db, world.treasurer, [other], details(336_000))


def test_a_closed_month_takes_no_payment(db, world):
    order = world.order_in(db, "received")
    order.received_at = utcnow() - timedelta(days=40)  # received in an earlier month
    last_month = TODAY.replace(day=1) - timedelta(days=1)
    db.add(
        ClosedPeriod(year=last_month.year, month=last_month.month, closed_by_id=world.finance.id)
    )
    db.flush()
    with pytest.raises(DomainError, match="closed") as caught:
        payments.record_transfer(db, world.treasurer, [order], details(336_000, paid_on=last_month))
    assert caught.value.field == "paid_on"
    assert payments.first_open_day(db, last_month) == TODAY.replace(day=1)


def test_only_the_agency_treasurer_pays(client, login, db, world):
    order = world.order_in(db, "received")
    for person in (world.approver, world.requester, world.vendor_owner, world.finance):
        with pytest.raises(PermissionDenied):
            payments.record_transfer(db, person, [order], details(336_000))
    db.commit()
    login(world.other_approver)
    assert client.post(f"/orders/{order.id}/pay", data=form(336_000)).status_code == 404
    login(world.approver)
    assert client.post(f"/orders/{order.id}/pay", data=form(336_000)).status_code == 403
    assert db.scalar(select(func.count()).select_from(Payment)) == 0


def test_the_form_keeps_what_was_typed_on_an_error(client, login, db, world):
    order = world.order_in(db, "received")
    db.commit()
    login(world.treasurer)
    page = client.get(f"/orders/{order.id}/pay").get_data(as_text=True)
    assert 'value="336000"' in page
    response = client.post(f"/orders/{order.id}/pay", data=form(100_000))
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "partial payment" in text and "SP2D-2026-0001" in text


def test_proof_of_transfer_is_kept_for_the_agency(client, login, db, world, upload_dir):
    order = world.order_in(db, "received")
    db.commit()
    login(world.treasurer)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = client.post(
        f"/orders/{order.id}/pay",
        data={**form(336_000), "proof": (io.BytesIO(pdf), "bukti.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    payment = db.scalars(select(Payment)).one()
    with client.get(f"/payments/{payment.id}/proof") as download:
        assert download.status_code == 200 and download.data == pdf
    login(world.vendor_owner)
    with client.get(f"/payments/{payment.id}/proof") as download:
        assert download.status_code == 404
    login(world.other_approver)
    assert client.get(f"/payments/{payment.id}").status_code == 404


def test_a_file_that_is_no_proof_is_refused(client, login, db, world):
    order = world.order_in(db, "received")
    db.commit()
    login(world.treasurer)
    response = client.post(
        f"/orders/{order.id}/pay",
        data={**form(336_000), "proof": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "bukti.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert db.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_transfer_refund_returns_spending_to_the_line(client, login, db, world):
    order = world.order_in(db, "paid")
    payment = payments.payments_of_order(db, order.id)[0]
    db.refresh(world.line)
    spent = world.line.spent
    with pytest.raises(DomainError, match="At most"):
        payments.request_refund(
            db, world.treasurer, payment, order, 400_000, "lebih", reference="RET-1"
        )
    db.commit()
    login(world.treasurer)
    response = client.post(
        f"/payments/{payment.id}/refunds",
        data={
            "order_id": order.id,
            "amount": "50000",
            "reason": "2 kotak basi",
            "reference": "RET-1",
        },
    )
    assert response.status_code == 302
    db.refresh(world.line)
    assert world.line.spent == spent - 50_000
    assert_line_matches_ledger(db, world.line)
    [entry] = db.scalars(select(BudgetEntry).where(BudgetEntry.kind == EntryKind.REFUND)).all()
    assert (entry.amount, entry.order_id) == (50_000, order.id)
    assert payments.amount_paid(db, order.id) == 336_000 - 50_000


def test_the_vendor_sees_when_and_what_is_paid(client, login, db, world):
    order = world.order_in(db, "received")
    db.commit()
    login(world.vendor_owner)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    due = payments.payment_due_on(order, 14)
    assert "Expected payment by" in page and "Rp 336.000" in page and "Rp 14.000" in page
    assert str(due.year) in page
    pay_by_transfer(db, world.treasurer, order)
    db.commit()
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Paid so far" in page and "SP2D-" in page


def test_a_transfer_is_not_dated_before_the_receipt(db, world):
    order = world.order_in(db, "received")
    with pytest.raises(DomainError, match="before the receipt"):
        payments.record_transfer(
            db, world.treasurer, [order], details(336_000, paid_on=TODAY - timedelta(days=1))
        )


def test_an_order_chosen_twice_is_paid_once(db, world):
    order = world.order_in(db, "received")
    payment = payments.record_transfer(db, world.treasurer, [order, order], details(336_000))
    assert [a.order_id for a in payment.allocations] == [order.id]


def test_a_refund_cannot_be_taken_twice(app, db, world):
    """Two refunds of the whole share at once: one passes, the line loses it once."""
    import threading

    order = world.order_in(db, "paid")
    payment = payments.payments_of_order(db, order.id)[0]
    db.refresh(world.line)
    spent = world.line.spent
    db.commit()
    sessionmaker = app.extensions["db_sessionmaker"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def refund(reference: str) -> None:
        session = sessionmaker()
        try:
            treasurer = session.get(type(world.treasurer), world.treasurer.id)
            mine = session.get(Payment, payment.id)
            target = session.get(Order, order.id)
            session.commit()
            barrier.wait(timeout=30)
            payments.request_refund(
                session, treasurer, mine, target, 336_000, "dobel", reference=reference
            )
            session.commit()
            outcomes.append("ok")
        except DomainError:
            session.rollback()
            outcomes.append("refused")
        finally:
            session.close()

    threads = [threading.Thread(target=refund, args=(f"RET-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok", "refused"]
    db.expire_all()
    db.refresh(world.line)
    assert world.line.spent == spent - 336_000


def test_an_invoice_partly_paid_is_not_corrected(db, world):
    from marketplace.documents import services as documents
    from marketplace.documents.models import DocumentKind

    order = world.order_in(db, "received")
    payments.record_transfer(
        db, world.treasurer, [order], details(100_000, partial_reason="Termin pertama")
    )
    world.vendor.npwp = "012345678901234"
    db.flush()
    invoice = next(
        d for d in documents.current_documents(db, order) if d.kind is DocumentKind.INVOICE
    )
    with pytest.raises(Conflict, match="already paid"):
        documents.issue_correction(db, world.approver, invoice, "NPWP")


def test_overdue_orders_are_flagged(db, world):
    order = world.order_in(db, "received")
    order.received_at = utcnow() - timedelta(days=20)
    db.flush()
    [row] = payments.payable_orders(db, world.treasurer, 14)
    assert row.overdue


def test_the_vendor_payments_page_lists_what_is_coming(client, login, db, world):
    waiting = world.order_in(db, "received")
    paid = world.order_in(db, "paid")
    db.commit()
    login(world.vendor_staff)
    page = client.get("/vendor/payments").get_data(as_text=True)
    assert waiting.reference in page and paid.reference in page
    assert "Still to come: Rp 336.000" in page
    login(world.other_vendor_owner)
    page = client.get("/vendor/payments").get_data(as_text=True)
    assert waiting.reference not in page
    login(world.approver)
    assert client.get("/vendor/payments").status_code == 403


def _queries(db, action) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    count = 0

    def seen(*_args) -> None:  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return count


def test_the_list_to_pay_does_not_grow_in_queries_with_its_rows(db, world):
    for _ in range(2):
        world.order_in(db, "received")
    db.expire_all()
    few = _queries(db, lambda: payments.payable_orders(db, world.treasurer, 14))
    for _ in range(4):
        world.order_in(db, "received")
    db.expire_all()
    many = _queries(db, lambda: payments.payable_orders(db, world.treasurer, 14))
    assert len(payments.payable_orders(db, world.treasurer, 14)) == 6
    assert many == few

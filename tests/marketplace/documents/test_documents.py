"""The BAST and the invoice: issued at receipt, numbered without gaps, frozen, corrected
only by a new version, rendered as PDF with the right figures, bundled for the treasurer."""

from __future__ import annotations

import io
import threading
import zipfile

import pypdf
import pytest
from sqlalchemy import select, text

from marketplace.audit.models import AuditEvent
from marketplace.delivery import services as delivery
from marketplace.documents import services as documents
from marketplace.documents.models import DocumentKind, IssuedDocument
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.ordering.models import Order
from marketplace.ordering.states import OrderStatus
from tests.support import budget_line


def _taxed_vendor(db, world, price: int = 110_000) -> None:
    """A caterer with an NPWP and a regional tax number, selling at `price` a box."""
    world.vendor.npwp = "012345678901234"
    world.vendor.regional_tax_number = "NPWPD-0101.23"
    world.vendor.contact_person = "Siti Rahmawati"
    world.vendor.bank_name = "Bank DKI"
    world.vendor.bank_account_number = "1234567890"
    world.approver.name, world.approver.position = "Budi Santoso", "Kepala Subbagian Umum"
    world.product.price = price
    db.flush()


def _docs(db, order) -> dict[DocumentKind, IssuedDocument]:
    return {d.kind: d for d in documents.current_documents(db, order)}


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


# Issuing and numbering ---------------------------------------------------------------


def test_receipt_issues_bast_and_invoice_with_the_first_numbers_of_the_year(db, world):
    _taxed_vendor(db, world)
    order = world.order_in(db, "received", quantity=10)
    docs = _docs(db, order)
    year = order.received_at.year
    code = world.agency.code
    assert docs[DocumentKind.BAST].number == f"BAST/{code}/{year}/00001"
    assert docs[DocumentKind.INVOICE].number == f"INV/{code}/{year}/00001"
    invoice = docs[DocumentKind.INVOICE].content
    # Worked example: Rp 1.100.000 including 10% PBJT -> base 1.000.000, PBJT 100.000,
    # PPh 23 2% of the base withheld 20.000, net payable 1.080.000.
    assert invoice["gross"] == 1_100_000
    assert invoice["taxes"]["base"] == 1_000_000
    assert [(t["code"], t["amount"]) for t in invoice["taxes"]["charged"]] == [("PBJT", 100_000)]
    assert [(t["code"], t["amount"]) for t in invoice["taxes"]["withheld"]] == [("PPH23", 20_000)]
    assert invoice["net_payable"] == 1_080_000
    assert invoice["bast_number"] == docs[DocumentKind.BAST].number
    bast = docs[DocumentKind.BAST].content
    assert bast["signatories"]["agency"] == {
        "name": "Budi Santoso",
        "position": "Kepala Subbagian Umum",
    }
    assert bast["signatories"]["vendor"]["name"] == "Siti Rahmawati"
    assert all(documents.is_intact(d) for d in docs.values())


def test_numbers_run_per_agency_and_kind_without_gaps(db, world):
    first = world.order_in(db, "received")
    second = world.order_in(db, "received")
    assert [d.sequence for d in documents.current_documents(db, first)] == [1, 1]
    assert [d.sequence for d in documents.current_documents(db, second)] == [2, 2]
    # The other agency has its own series.
    budget_line(db, world.other_agency, 5_000_000, code="5.1.02.01.01.0077")
    other = _order_for_other_agency(db, world)
    assert _docs(db, other)[DocumentKind.BAST].sequence == 1


def _order_for_other_agency(db, world):
    from marketplace.accounts.models import Role
    from marketplace.ordering import services as ordering
    from tests.support import details_for, user_with_roles

    approver = world.other_approver
    ordering.add_to_cart(db, world.other_requester, world.product, 10)
    cart = ordering.cart_orders(db, world.other_requester)
    [order] = ordering.checkout(
        db, world.other_requester, [o.id for o in cart], details_for(world.other_line), world.rules
    )
    ordering.approve_order(db, approver, order)
    ordering.accept_order(db, world.vendor_owner, order)
    delivery.deliver_order(db, world.vendor_owner, order)
    user_with_roles(db, Role.APPROVER, agency=world.other_agency)
    delivery.receive_order(
        db, approver, order, [delivery.LineReceipt(line.id, line.quantity) for line in order.lines]
    )
    return order


def test_a_rolled_back_receipt_leaves_no_gap(db, world):
    first = world.order_in(db, "delivered")
    second = world.order_in(db, "delivered")
    db.commit()
    delivery.receive_order(
        db, world.approver, first, [delivery.LineReceipt(line.id, 10) for line in first.lines]
    )
    assert _docs(db, first)[DocumentKind.BAST].sequence == 1
    db.rollback()  # the receipt fails later in its request: the number goes back
    delivery.receive_order(
        db, world.approver, second, [delivery.LineReceipt(line.id, 10) for line in second.lines]
    )
    assert _docs(db, second)[DocumentKind.BAST].sequence == 1


def test_nothing_received_gives_a_bast_but_no_invoice(db, world):
    order = world.order_in(db, "delivered")
    delivery.receive_order(
        db, world.approver, order, [delivery.LineReceipt(line.id, 0) for line in order.lines]
    )
    assert set(_docs(db, order)) == {DocumentKind.BAST}
    assert _docs(db, order)[DocumentKind.BAST].content["gross"] == 0


def test_concurrent_receipts_take_distinct_consecutive_numbers(app, db, world):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("row locks are what is tested; SQLite serialises every writer anyway")
    threads_count = 12
    budget_line(db, world.agency, 0, code="5.1.02.01.01.0001")
    world.line.allocation = 100_000_000
    db.flush()
    orders = [world.order_in(db, "delivered", quantity=1) for _ in range(threads_count)]
    order_ids = [o.id for o in orders]
    db.commit()
    sessionmaker = app.extensions["db_sessionmaker"]
    barrier = threading.Barrier(threads_count)
    errors: list[str] = []

    def receive(order_id: int) -> None:
        session = sessionmaker()
        try:
            approver = session.get(type(world.approver), world.approver.id)
            order = session.get(type(orders[0]), order_id)
            receipts = [delivery.LineReceipt(line.id, line.quantity) for line in order.lines]
            session.commit()
            barrier.wait(timeout=60)
            delivery.receive_order(session, approver, order, receipts)
            session.commit()
        except Exception as error:
            session.rollback()
            errors.append(repr(error))
        finally:
            session.close()

    threads = [threading.Thread(target=receive, args=(i,)) for i in order_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    db.expire_all()
    for kind in DocumentKind:
        sequences = sorted(
            db.scalars(
                select(IssuedDocument.sequence).where(
                    IssuedDocument.agency_id == world.agency.id, IssuedDocument.kind == kind
                )
            )
        )
        assert sequences == list(range(1, threads_count + 1))


# Immutability and corrections --------------------------------------------------------


def test_an_issued_document_cannot_be_changed_or_deleted(db, world):
    order = world.order_in(db, "received")
    bast = _docs(db, order)[DocumentKind.BAST]
    db.commit()
    bast.content = {**bast.content, "gross": 1}
    with pytest.raises(documents.DocumentChangeRefused):
        db.flush()
    db.rollback()
    bast = db.get(IssuedDocument, bast.id)
    db.delete(bast)
    with pytest.raises(documents.DocumentChangeRefused):
        db.flush()
    db.rollback()


def test_the_database_refuses_changes_on_postgresql(db, world):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL")
    order = world.order_in(db, "received")
    document_id = _docs(db, order)[DocumentKind.BAST].id
    db.commit()
    with pytest.raises(Exception, match="never change"):
        db.execute(
            text("UPDATE issued_documents SET number = 'x' WHERE id = :id"), {"id": document_id}
        )
    db.rollback()
    with pytest.raises(Exception, match="never change"):
        db.execute(text("DELETE FROM issued_documents WHERE id = :id"), {"id": document_id})
    db.rollback()


def test_a_correction_is_a_new_version_that_names_the_old_one(db, world):
    order = world.order_in(db, "received")
    invoice = _docs(db, order)[DocumentKind.INVOICE]
    original = dict(invoice.content)
    # Without NPWP PPh 23 was withheld at 4%; the vendor's NPWP is then found and entered.
    assert invoice.content["taxes"]["withheld"][0]["rate_bp"] == 400
    world.vendor.npwp = "012345678901234"
    db.flush()
    corrected = documents.issue_correction(db, world.approver, invoice, "NPWP vendor tercatat")
    assert corrected.number == invoice.number
    assert (corrected.version, corrected.supersedes_id) == (2, invoice.id)
    assert corrected.content["taxes"]["withheld"][0]["rate_bp"] == 200
    assert corrected.content["net_payable"] > original["net_payable"]
    db.expire_all()
    old = db.get(IssuedDocument, invoice.id)
    assert old.content == original and documents.is_intact(old)
    assert _docs(db, order)[DocumentKind.INVOICE].id == corrected.id
    # The old version cannot be corrected again; the new one is the one to correct.
    with pytest.raises(Conflict):
        documents.issue_correction(db, world.approver, old, "again")


def _amounts_of(document: IssuedDocument) -> tuple:
    return (
        document.gross,
        document.charged_total,
        document.withheld_total,
        document.net_payable,
    )


def test_an_invoice_keeps_its_amounts_in_columns_equal_to_its_content(db, world):
    _taxed_vendor(db, world)
    order = world.order_in(db, "received", quantity=10)
    docs = _docs(db, order)
    db.commit()
    db.expire_all()
    invoice = db.get(IssuedDocument, docs[DocumentKind.INVOICE].id)
    content = invoice.content
    assert _amounts_of(invoice) == (
        content["gross"],
        content["taxes"]["charged_total"],
        content["taxes"]["withheld_total"],
        content["net_payable"],
    )
    assert _amounts_of(invoice) == (1_100_000, 100_000, 20_000, 1_080_000)
    # the order carries its current invoice's gross and net payable for finance's sums
    order = db.get(Order, order.id)
    assert (order.invoice_gross, order.net_payable) == (1_100_000, 1_080_000)
    # a BAST owes nothing: it records what was received
    assert _amounts_of(db.get(IssuedDocument, docs[DocumentKind.BAST].id)) == (None,) * 4


def test_a_corrected_invoice_carries_its_own_amounts(db, world):
    order = world.order_in(db, "received")
    invoice = _docs(db, order)[DocumentKind.INVOICE]
    before = _amounts_of(invoice)
    world.vendor.npwp = "012345678901234"
    db.flush()
    corrected = documents.issue_correction(db, world.approver, invoice, "NPWP vendor tercatat")
    db.commit()
    db.expire_all()
    corrected = db.get(IssuedDocument, corrected.id)
    content = corrected.content
    assert _amounts_of(corrected) == (
        content["gross"],
        content["taxes"]["charged_total"],
        content["taxes"]["withheld_total"],
        content["net_payable"],
    )
    assert corrected.net_payable > before[3]
    assert _amounts_of(db.get(IssuedDocument, invoice.id)) == before
    # the order's invoice amounts are the correction's now
    order = db.get(Order, order.id)
    assert (order.invoice_gross, order.net_payable) == (corrected.gross, corrected.net_payable)


def test_a_correction_needs_a_reason_a_change_and_the_right_person(db, world):
    order = world.order_in(db, "received")
    bast = _docs(db, order)[DocumentKind.BAST]
    with pytest.raises(DomainError):
        documents.issue_correction(db, world.approver, bast, "   ")
    with pytest.raises(DomainError, match="Nothing differs"):
        documents.issue_correction(db, world.approver, bast, "no change at all")
    for person in (world.requester, world.vendor_owner, world.other_approver, world.treasurer):
        with pytest.raises(PermissionDenied):
            documents.issue_correction(db, person, bast, "typo")
    world.approver.position = "Pejabat Pembuat Komitmen"
    db.flush()
    assert documents.issue_correction(db, world.curator, bast, "jabatan").version == 2


# Pages, PDF and the bundle -----------------------------------------------------------


def test_pdf_text_carries_the_numbers_and_amounts(client, login, db, world):
    _taxed_vendor(db, world)
    order = world.order_in(db, "received", quantity=10)
    docs = _docs(db, order)
    login(world.treasurer)
    response = client.get(f"/orders/{order.id}/documents/{docs[DocumentKind.INVOICE].id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "private" in response.headers["Cache-Control"]
    pdf = _pdf_text(response.data)
    for expected in (
        docs[DocumentKind.INVOICE].number,
        docs[DocumentKind.BAST].number,
        "Rp 1.100.000",
        "Rp 1.000.000",
        "Rp 100.000",
        "Rp 20.000",
        "Rp 1.080.000",
        "012345678901234",
        "Satu juta delapan puluh ribu rupiah",
    ):
        assert expected in pdf, expected
    response = client.get(f"/orders/{order.id}/documents/{docs[DocumentKind.BAST].id}.pdf")
    bast = _pdf_text(response.data)
    for expected in (docs[DocumentKind.BAST].number, "Budi Santoso", "Siti Rahmawati", "10"):
        assert expected in bast, expected


def test_document_pages_are_for_the_order_parties_only(client, login, db, world):
    order = world.order_in(db, "received")
    bast = _docs(db, order)[DocumentKind.BAST]
    url = f"/orders/{order.id}/documents/{bast.id}"
    for person in (world.vendor_owner, world.approver, world.auditor, world.finance):
        login(person)
        response = client.get(url)
        assert response.status_code == 200, person.email
        assert bast.number in response.get_data(as_text=True)
    for person in (world.other_vendor_owner, world.other_approver):
        login(person)
        assert client.get(url).status_code == 404
        assert client.get(url + ".pdf").status_code == 404


def test_order_page_lists_documents_and_correction_through_the_page(client, login, db, world):
    order = world.order_in(db, "received")
    invoice = _docs(db, order)[DocumentKind.INVOICE]
    login(world.approver)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert invoice.number in page and "accountability bundle" in page
    response = client.post(
        f"/orders/{order.id}/documents/{invoice.id}/correct", data={"reason": "salah ketik"}
    )
    assert response.status_code == 302
    assert "Nothing differs" in client.get(response.location).get_data(as_text=True)
    assert len(documents.documents_of_order(db, order)) == 2
    # The vendor's NPWP is entered; the approver issues the corrected invoice from the page.
    world.vendor.npwp = "012345678901234"
    db.commit()
    response = client.post(
        f"/orders/{order.id}/documents/{invoice.id}/correct", data={"reason": "NPWP tercatat"}
    )
    assert response.status_code == 302
    assert "Version 2" in client.get(response.location).get_data(as_text=True)
    versions = [d for d in documents.documents_of_order(db, order) if d.kind is invoice.kind]
    assert [d.version for d in versions] == [2, 1]
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "document.correct"))
    assert event.after["changed"] == ["net_payable", "taxes", "vendor"]


def test_corrections_are_refused_to_others_and_after_payment(client, login, db, world):
    order = world.order_in(db, "received")
    invoice = _docs(db, order)[DocumentKind.INVOICE]
    world.vendor.npwp = "012345678901234"
    db.commit()
    url = f"/orders/{order.id}/documents/{invoice.id}/correct"
    for person, status in (
        (world.vendor_owner, 403),
        (world.requester, 403),
        (world.treasurer, 403),
        (world.other_approver, 404),
        (world.other_vendor_owner, 404),
    ):
        login(person)
        assert client.post(url, data={"reason": "x"}).status_code == status, person.email
    assert len(documents.documents_of_order(db, order)) == 2
    from tests.support import pay_by_transfer

    pay_by_transfer(db, world.treasurer, order)
    db.commit()
    login(world.approver)
    assert client.post(url, data={"reason": "x"}).status_code == 403
    assert len(documents.documents_of_order(db, order)) == 2


def test_a_document_is_reached_only_through_its_own_order(client, login, db, world):
    first = world.order_in(db, "received")
    second = world.order_in(db, "received")
    bast = _docs(db, first)[DocumentKind.BAST]
    login(world.approver)
    assert client.get(f"/orders/{second.id}/documents/{bast.id}").status_code == 404
    assert client.get(f"/orders/{second.id}/documents/{bast.id}.pdf").status_code == 404
    login(world.other_approver)
    assert client.get(f"/orders/{first.id}/spj.zip").status_code == 404


def test_download_names_are_plain_whatever_the_agency_code(client, login, db, world):
    world.agency.code = 'X"; filename*=evil.html; a="'
    db.flush()
    order = world.order_in(db, "received")
    bast = _docs(db, order)[DocumentKind.BAST]
    login(world.approver)
    response = client.get(f"/orders/{order.id}/documents/{bast.id}.pdf")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=BAST-X-filename-evil-html-a-")
    assert '"' not in disposition.removeprefix("attachment; filename=")


def test_a_tampered_document_is_not_served(client, login, db, world):
    if db.get_bind().dialect.name == "postgresql":
        pytest.skip("there the trigger refuses the change itself")
    order = world.order_in(db, "received")
    bast = _docs(db, order)[DocumentKind.BAST]
    db.commit()
    # Bypassing the application, as someone with database access might.
    db.execute(
        IssuedDocument.__table__.update()
        .where(IssuedDocument.id == bast.id)
        .values(content={**bast.content, "gross": 1})
    )
    db.commit()
    login(world.approver)
    assert client.get(f"/orders/{order.id}/documents/{bast.id}").status_code == 409
    assert client.get(f"/orders/{order.id}/documents/{bast.id}.pdf").status_code == 409


def test_an_agency_code_printed_on_documents_cannot_change(db, world):
    from marketplace.admin import services as admin
    from marketplace.errors import Conflict as CodeConflict

    world.order_in(db, "received")
    data = admin.AgencyData(
        code="9.99",
        name=world.agency.name,
        address=world.agency.address,
        city=world.agency.city,
        second_approval_threshold=None,
        split_purchase_threshold=None,
    )
    with pytest.raises(CodeConflict, match="cannot change"):
        admin.save_agency(db, world.curator, data, world.agency)


def test_accountability_bundle_holds_documents_photos_and_history(client, login, db, world):
    order = world.order_in(db, "received")
    login(world.treasurer)
    response = client.get(f"/orders/{order.id}/spj.zip")
    assert response.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(response.data))
    names = bundle.namelist()
    assert sum(name.startswith("dokumen/BAST-") for name in names) == 1
    assert sum(name.startswith("dokumen/INV-") for name in names) == 1
    history = bundle.read("riwayat-pesanan.csv").decode("utf-8-sig")
    assert "order.receive" in history and "document.issue" in history
    sums = bundle.read("SHA256SUMS").decode()
    assert all(name in sums for name in names if name != "SHA256SUMS")
    login(world.vendor_owner)
    assert client.get(f"/orders/{order.id}/spj.zip").status_code == 403


def test_no_documents_before_receipt(db, world):
    order = world.order_in(db, "delivered")
    assert documents.current_documents(db, order) == []
    assert order.status is OrderStatus.DELIVERED


def test_pdf_rendering_leaves_photo_uploads_strict(client, login, db, world, tmp_path):
    """WeasyPrint turns on Pillow's truncated-image switch; photo checks need it off."""
    from PIL import ImageFile

    from catalog import photos

    order = world.order_in(db, "received")
    bast = _docs(db, order)[DocumentKind.BAST]
    login(world.approver)
    assert client.get(f"/orders/{order.id}/documents/{bast.id}.pdf").status_code == 200
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(photos.PhotoError):
        photos.store_photo(b"\xff\xd8\xff\xe0 truncated jpeg", tmp_path)

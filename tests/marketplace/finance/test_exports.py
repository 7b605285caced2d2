"""Exports read back: CSV with the csv module and XLSX with openpyxl carry the documented
columns, in order, and the right values; text never becomes a formula."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from marketplace.finance import exports
from marketplace.finance.queries import FinanceScope, Period
from marketplace.payments import services as payments

DOCS = Path(__file__).parents[3] / "docs" / "exports.md"
EVERYWHERE = FinanceScope(None)


def read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # a BOM, so spreadsheets read UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def read_xlsx(body: bytes, sheet: str) -> tuple[list[str], list[dict[str, object]]]:
    book = load_workbook(io.BytesIO(body))
    rows = list(book[sheet].iter_rows(values_only=True))
    header = list(rows[0])
    return header, [dict(zip(header, row, strict=True)) for row in rows[1:]]


def test_docs_list_every_column_of_every_dataset_in_order():
    text = DOCS.read_text(encoding="utf-8")
    for name, dataset in exports.DATASETS.items():
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        documented = re.findall(r"^\| `(\w+)` \| (\w+) \|", section, flags=re.M)
        assert documented == [(c.name, c.type) for c in dataset.columns], name


def test_orders_export_csv_and_xlsx(db, world, orders):
    order = orders.paid()
    unpaid = orders.received(other_agency=True)
    net = payments.net_payable(db, order)
    withheld = sum(t["amount"] for t in payments.withheld_taxes(db, order))
    csv_rows = read_csv(exports.export(db, "orders", "csv", EVERYWHERE, None, 14))
    assert list(csv_rows[0]) == exports.DATASETS["orders"].column_names
    by_id = {row["order_id"]: row for row in csv_rows}
    row = by_id[str(order.id)]
    assert row["order_number"] == order.number
    assert row["status"] == "paid"
    assert row["agency_name"] == world.agency.name
    assert row["vendor_scale"] == "micro"
    assert int(row["received_total"]) == order.received_total
    assert int(row["net_payable"]) == net
    assert int(row["taxes_withheld"]) == withheld
    assert int(row["invoice_gross"]) - int(row["taxes_withheld"]) == net
    assert int(row["amount_paid"]) == net and row["outstanding"] == "0"
    assert row["last_paid_on"] == payments.jakarta_today().isoformat()
    assert row["received_at"].endswith("+07:00")
    assert by_id[str(unpaid.id)]["outstanding"] == str(payments.net_payable(db, unpaid))

    header, xlsx_rows = read_xlsx(
        exports.export(db, "orders", "xlsx", EVERYWHERE, None, 14), "orders"
    )
    assert header == exports.DATASETS["orders"].column_names
    xrow = next(r for r in xlsx_rows if r["order_id"] == order.id)
    assert xrow["net_payable"] == net and isinstance(xrow["net_payable"], int)
    assert xrow["order_number"] == order.number
    assert xrow["last_paid_on"].date() == payments.jakarta_today()
    # the sheet that documents the columns
    about_header, about = read_xlsx(
        exports.export(db, "orders", "xlsx", EVERYWHERE, None, 14), "columns"
    )
    assert about_header == ["column", "type", "meaning"]
    assert [r["column"] for r in about] == exports.DATASETS["orders"].column_names


def test_payments_ledgers_and_taxes_exports(db, world, orders):
    order = orders.paid()
    [payment] = payments.payments_of_order(db, order.id)
    payments.request_refund(db, world.treasurer, payment, order, 20_000, "Kurang", reference="R-1")
    rows = read_csv(exports.export(db, "payments", "csv", EVERYWHERE, None, 14))
    assert [r["payment_id"] for r in rows] == [str(payment.id)]
    assert rows[0]["rail"] == "transfer" and rows[0]["status"] == "succeeded"
    assert rows[0]["allocated_amount"] == str(payment.amount)
    assert rows[0]["refunded_amount"] == "20000"
    assert rows[0]["withholding_slips"] == "BP-0001"
    assert rows[0]["stripe_fee"] == ""

    ledger = read_csv(exports.export(db, "ledgers", "csv", EVERYWHERE, None, 14))
    mine = [r for r in ledger if r["order_id"] == str(order.id)]
    assert [r["kind"] for r in mine] == ["commit", "spend", "refund"]
    assert sum(int(r["spent_change"]) for r in mine) == order.received_total - 20_000

    header, taxes = read_xlsx(
        exports.export(db, "taxes_withheld", "xlsx", EVERYWHERE, None, 14), "taxes_withheld"
    )
    assert header == exports.DATASETS["taxes_withheld"].column_names
    expected = payments.withheld_taxes(db, order)
    assert [(t["tax_code"], t["amount"], t["rate_bp"]) for t in taxes] == [
        (t["code"], t["amount"], t["rate_bp"]) for t in expected
    ]
    assert all(t["withholding_slips"] == "BP-0001" for t in taxes)


def test_exports_follow_scope_and_period(db, world, orders):
    mine = orders.paid()
    orders.paid(other_agency=True)
    own = FinanceScope(frozenset({world.agency.id}))
    for name in exports.DATASETS:
        rows = read_csv(exports.export(db, name, "csv", own, None, 14))
        assert {r["agency_name"] for r in rows} <= {world.agency.name}, name
    ids = {r["order_id"] for r in read_csv(exports.export(db, "orders", "csv", own, None, 14))}
    assert ids == {str(mine.id)}
    today = payments.jakarta_today()
    this_month = Period(today.year, today.month)
    last_year = Period(today.year - 1)
    assert len(read_csv(exports.export(db, "orders", "csv", EVERYWHERE, this_month, 14))) == 2
    assert read_csv(exports.export(db, "orders", "csv", EVERYWHERE, last_year, 14)) == []
    assert read_csv(exports.export(db, "payments", "csv", EVERYWHERE, last_year, 14)) == []


def test_text_that_looks_like_a_formula_stays_text(db, world, orders):
    world.agency.name = '=HYPERLINK("http://evil","klik")'
    orders.paid()
    [row] = read_csv(exports.export(db, "orders", "csv", EVERYWHERE, None, 14))
    assert row["agency_name"] == '\'=HYPERLINK("http://evil","klik")'
    body = exports.export(db, "orders", "xlsx", EVERYWHERE, None, 14)
    book = load_workbook(io.BytesIO(body))
    sheet = book["orders"]
    column = exports.DATASETS["orders"].column_names.index("agency_name") + 1
    cell = sheet.cell(row=2, column=column)
    assert cell.data_type == "s" and cell.value == world.agency.name


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_export_download(client, login, db, world, orders, file_format):
    order = orders.paid()
    login(world.finance)
    today = payments.jakarta_today()
    response = client.get(f"/finance/exports/orders.{file_format}?month={today:%Y-%m}")
    assert response.status_code == 200
    assert (
        f'filename="eorder-orders-{today:%Y-%m}.{file_format}"'
        in (response.headers["Content-Disposition"])
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    if file_format == "csv":
        [row] = read_csv(response.data)
    else:
        _header, [row] = read_xlsx(response.data, "orders")
    assert str(row["order_id"]) == str(order.id)
    assert client.get("/finance/exports/secrets.csv").status_code == 404
    assert client.get("/finance/exports/orders.pdf").status_code == 404


def test_an_empty_export_still_has_its_header(db, world):
    for name, dataset in exports.DATASETS.items():
        body = exports.export(db, name, "csv", EVERYWHERE, Period(2001, 1), 14)
        assert body.decode("utf-8-sig").splitlines() == [",".join(dataset.column_names)]
        header, rows = read_xlsx(
            exports.export(db, name, "xlsx", EVERYWHERE, Period(2001, 1), 14), name
        )
        assert header == dataset.column_names and rows == []

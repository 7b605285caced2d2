"""Finance exports: orders, payments, budget ledgers and taxes withheld as rows with stable
column names (documented in docs/exports.md), written as CSV or XLSX.

Column names and meanings are a contract with the regional finance systems that read
these files: add columns at the end, never rename or reorder them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from catalog.listings_csv import spreadsheet_safe
from marketplace.finance.export_rows import Row, ledger_rows, order_rows, payment_rows, tax_rows
from marketplace.finance.queries import FinanceScope, Period
from marketplace.ordering.rules import JAKARTA


@dataclass(frozen=True)
class Column:
    name: str
    #: integer (rupiah or a count or an id), text, date (YYYY-MM-DD), datetime (Jakarta)
    type: str
    meaning: str


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: tuple[Column, ...]
    rows: Callable[[Session, FinanceScope, Period | None, int], list[Row]]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _columns(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*item) for item in spec)


# Orders ------------------------------------------------------------------------------

ORDER_COLUMNS = _columns(
    ("order_id", "integer", "Internal id of the order"),
    ("order_number", "text", "Order number, e.g. EO-2026-000042"),
    ("status", "text", "received, paid or reconciled"),
    ("agency_code", "text", "Code of the ordering agency"),
    ("agency_name", "text", "Name of the ordering agency"),
    ("vendor_id", "integer", "Internal id of the vendor"),
    ("vendor_name", "text", "Vendor's trading name"),
    ("vendor_scale", "text", "micro, small or medium"),
    ("budget_line_code", "text", "Account code of the budget line charged"),
    ("fiscal_year", "integer", "Fiscal year of the budget line"),
    ("activity", "text", "Activity the order was for"),
    ("delivery_date", "date", "Agreed delivery date"),
    ("submitted_at", "datetime", "When the order was submitted"),
    ("received_at", "datetime", "When receipt was confirmed (BAST)"),
    ("paid_at", "datetime", "When the order became fully paid"),
    ("reconciled_at", "datetime", "When finance reconciled it"),
    ("ordered_total", "integer", "Rupiah ordered"),
    ("received_total", "integer", "Rupiah received: the spending on the budget line"),
    ("invoice_number", "text", "Number of the current invoice"),
    ("invoice_version", "integer", "Version of the current invoice (1 unless corrected)"),
    ("invoice_gross", "integer", "Rupiah gross on the invoice (charged taxes included)"),
    ("taxes_charged", "integer", "Rupiah of taxes the vendor charged (PBJT)"),
    ("taxes_withheld", "integer", "Rupiah of taxes the treasurer withheld (PPh)"),
    ("net_payable", "integer", "Rupiah owed to the vendor: gross less withheld"),
    ("amount_paid", "integer", "Rupiah of succeeded payments, before refunds"),
    ("amount_refunded", "integer", "Rupiah the vendor refunded"),
    ("outstanding", "integer", "Rupiah still owed: net payable less paid plus refunded"),
    ("payment_due_on", "date", "Receipt date plus the payment term"),
    ("last_paid_on", "date", "Value date of the latest payment"),
)


# Payments ----------------------------------------------------------------------------

PAYMENT_COLUMNS = _columns(
    ("payment_id", "integer", "Internal id of the payment (one row per order it covers)"),
    ("rail", "text", "transfer (treasury transfer) or card (government card via Stripe)"),
    ("status", "text", "pending, succeeded, failed or expired"),
    ("agency_code", "text", "Code of the paying agency"),
    ("agency_name", "text", "Name of the paying agency"),
    ("vendor_id", "integer", "Internal id of the vendor paid"),
    ("vendor_name", "text", "Vendor's trading name"),
    ("order_id", "integer", "Internal id of the order this row settles"),
    ("order_number", "text", "Number of that order"),
    ("allocated_amount", "integer", "Rupiah of the payment that went to this order"),
    ("payment_amount", "integer", "Rupiah of the whole payment"),
    ("paid_on", "date", "Value date of the transfer or card charge"),
    ("reference", "text", "SP2D / bank reference, or the Stripe charge id"),
    ("payer_account", "text", "Account the transfer was made from"),
    ("withholding_slips", "text", "Numbers of the tax withholding slips, separated by '; '"),
    ("partial_reason", "text", "Why less than the net payable was paid, if it was"),
    ("stripe_payment_intent_id", "text", "Stripe PaymentIntent (card only)"),
    ("stripe_balance_transaction_id", "text", "Stripe balance transaction (card only)"),
    ("stripe_fee", "integer", "Rupiah Stripe kept for the whole payment (card only)"),
    ("stripe_net", "integer", "Rupiah that reached the Stripe balance (card only)"),
    ("refunded_amount", "integer", "Rupiah refunded of this row's allocation"),
    ("succeeded_at", "datetime", "When the payment was confirmed"),
)


# Budget ledgers ----------------------------------------------------------------------

LEDGER_COLUMNS = _columns(
    ("entry_id", "integer", "Internal id of the ledger row"),
    ("recorded_at", "datetime", "When the row was written"),
    ("agency_code", "text", "Code of the agency owning the budget line"),
    ("agency_name", "text", "Name of that agency"),
    ("budget_line_id", "integer", "Internal id of the budget line"),
    ("fiscal_year", "integer", "Fiscal year of the budget line"),
    ("account_code", "text", "Account code (DPA) of the budget line"),
    ("budget_line_name", "text", "Name of the budget line"),
    ("kind", "text", "allocate, reduce, commit, release, spend or refund"),
    ("amount", "integer", "Rupiah moved (always positive; the kind gives the direction)"),
    ("spent_change", "integer", "Rupiah the row changed spending by: +spend, -refund, else 0"),
    ("order_id", "integer", "Internal id of the order it concerns, if any"),
    ("order_number", "text", "Number of that order"),
    ("reason", "text", "Reason written with the row"),
)


# Taxes withheld ----------------------------------------------------------------------

TAX_COLUMNS = _columns(
    ("order_id", "integer", "Internal id of the order"),
    ("order_number", "text", "Order number"),
    ("invoice_number", "text", "Number of the current invoice"),
    ("invoice_version", "integer", "Version of the current invoice"),
    ("invoice_issued_at", "datetime", "When that invoice version was issued"),
    ("agency_code", "text", "Code of the withholding agency"),
    ("agency_name", "text", "Name of the withholding agency"),
    ("vendor_id", "integer", "Internal id of the vendor"),
    ("vendor_name", "text", "Vendor's registered legal name"),
    ("vendor_npwp", "text", "Vendor's tax number (NPWP), empty when it has none"),
    ("tax_code", "text", "Tax rule code, e.g. PPH23, PPH22"),
    ("tax_name", "text", "Name of the tax"),
    ("rate_bp", "integer", "Rate in basis points (200 = 2%)"),
    ("base", "integer", "Rupiah the tax was computed on"),
    ("amount", "integer", "Rupiah withheld"),
    ("withholding_slips", "text", "Slip numbers recorded with the order's payments, '; '"),
    ("last_paid_on", "date", "Value date of the order's latest payment, empty if unpaid"),
)


DATASETS: dict[str, Dataset] = {
    "orders": Dataset("orders", ORDER_COLUMNS, order_rows),
    "payments": Dataset("payments", PAYMENT_COLUMNS, payment_rows),
    "ledgers": Dataset("ledgers", LEDGER_COLUMNS, ledger_rows),
    "taxes_withheld": Dataset("taxes_withheld", TAX_COLUMNS, tax_rows),
}
FORMATS = ("csv", "xlsx")


# Writing -----------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(JAKARTA).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return spreadsheet_safe(str(value))


def write_csv(dataset: Dataset, rows: Iterable[Row]) -> bytes:
    """UTF-8 with a BOM (so that spreadsheet programs read it as UTF-8), one header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(dataset.column_names)
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_xlsx(dataset: Dataset, rows: Iterable[Row]) -> bytes:
    """One sheet of data named after the dataset and one that describes its columns."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = dataset.name
    sheet.append(dataset.column_names)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row_number, row in enumerate(rows, start=2):
        for column_number, value in enumerate(row, start=1):
            _xlsx_cell(sheet.cell(row=row_number, column=column_number), value)
    for index, column in enumerate(dataset.columns, start=1):
        width = {"text": 24, "integer": 14, "date": 12, "datetime": 20}[column.type]
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    about = workbook.create_sheet("columns")
    about.append(["column", "type", "meaning"])
    for column in dataset.columns:
        about.append([column.name, column.type, column.meaning])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(cell: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, datetime):
        # spreadsheets have no time zones: Jakarta wall-clock time, as documented
        cell.value = value.astimezone(JAKARTA).replace(tzinfo=None)
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
    elif isinstance(value, date):
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, int):
        cell.value = value
        cell.number_format = "0"
    else:
        cell.value = str(value)
        # text stays text: a leading "=" must never become a formula
        cell.data_type = "s"


def export(
    session: Session,
    dataset_name: str,
    file_format: str,
    scope: FinanceScope,
    period: Period | None,
    payment_due_days: int,
) -> bytes:
    dataset = DATASETS[dataset_name]
    rows = dataset.rows(session, scope, period, payment_due_days)
    return write_csv(dataset, rows) if file_format == "csv" else write_xlsx(dataset, rows)


def file_name(
    dataset_name: str, file_format: str, period: Period | None, agency_code: str = ""
) -> str:
    parts: Sequence[str] = ["eorder", dataset_name, period.key if period else "all"]
    if agency_code:
        parts = [*parts, agency_code]
    return "-".join(parts).replace("/", "_") + f".{file_format}"

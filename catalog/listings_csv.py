"""Bulk import and export of one vendor's listings as a CSV file (for spreadsheets).

The file has a header row with these fixed English column names, in any order; every column
must be present and no other column is allowed (so that a mistyped name is caught):

==================== ========================================================================
Column               Cell
==================== ========================================================================
name                 the product name; matches an existing listing of the vendor regardless
                     of upper/lower case, otherwise a new listing is created
category             the category's slug, e.g. ``nasi-box``
unit                 one of the ``Unit`` values: box, pax, portion, package, litre, piece
price                whole rupiah per unit, digits only: ``35000`` (not ``35.000``, ``35,000``
                     or ``Rp 35.000``: a separator means thousands in one locale and decimals
                     in another)
min_order_quantity   whole number, at least 1
lead_time_hours      whole number, 0 or more
portions_per_unit    whole number, at least 1
tags                 ``DietaryTag`` values separated by ``;``, e.g. ``halal;no_nuts``; may be
                     empty
status               ``published`` or ``paused``
description          free text; may be empty
==================== ========================================================================

Column names and the values of unit, tags and status are read regardless of case and
surrounding spaces.

Export writes UTF-8 with a byte-order mark (so that Excel shows Indonesian text correctly) and
``\\r\\n`` line ends (RFC 4180), listings ordered by name. A cell starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return would be run as a formula by a spreadsheet, so it is
written with a leading apostrophe; import removes that one apostrophe again.

Import accepts UTF-8 with or without a byte-order mark, separated by commas or, as Excel saves
it under an Indonesian locale, by semicolons (recognised from the header). Every row is checked
before anything is written and all problems are reported together, each with its line (the row
number a spreadsheet shows: the header is line 1, the first listing line 2) and its column. If
there is any problem nothing is written. Existing listings are changed through
``update_listing``, so price history and the curator's review rules apply as for an edit in the
form; rows that change nothing are left alone. Listings missing from the file are not touched,
and a listing cannot be renamed by import (a new name makes a new listing).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from catalog.models import DietaryTag, Product, ProductStatus, Unit, Vendor
from catalog.services import (
    MAX_PRICE,
    ListingData,
    ListingError,
    categories,
    create_listing,
    update_listing,
)

COLUMNS: tuple[str, ...] = (
    "name",
    "category",
    "unit",
    "price",
    "min_order_quantity",
    "lead_time_hours",
    "portions_per_unit",
    "tags",
    "status",
    "description",
)

TAG_SEPARATOR = ";"
BOM = "\ufeff"

#: the longest product name the database takes (Product.name is String(160))
MAX_NAME_LENGTH = 160
#: integers above this do not fit an INTEGER column on PostgreSQL
_MAX_INT = 2_147_483_647

# A cell a spreadsheet would take for a formula, possibly already escaped with apostrophes:
# escaping adds one apostrophe and unescaping removes one, so every value survives a round trip.
_NEEDS_ESCAPE = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
_DIGITS = re.compile(r"[0-9]+")
_NEGATIVE = re.compile(r"-[0-9]+")

_E = TypeVar("_E", Unit, ProductStatus)

# ListingError names model fields; the file names columns.
_FIELD_TO_COLUMN = {"category_id": "category"}


@dataclass
class RowError:
    """A problem in the file: the line (header = 1), the column ("" for the whole line)."""

    line: int
    field: str
    message: str


class ImportFailed(Exception):
    """The file was refused; nothing was written. `errors` lists every problem found."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the listings file")
        self.errors = errors


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int


# --------------------------------------------------------------------------- export


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (a leading apostrophe)."""
    return "'" + cell if _NEEDS_ESCAPE.match(cell) else cell


_escape = spreadsheet_safe


def _unescape(cell: str) -> str:
    return cell[1:] if _ESCAPED.match(cell) else cell


def export_listings(session: Session, vendor: Vendor) -> str:
    """All of the vendor's listings as CSV text, starting with a BOM; encode it as UTF-8."""
    products = session.scalars(
        select(Product).where(Product.vendor_id == vendor.id).options(joinedload(Product.category))
    ).all()
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for product in sorted(products, key=lambda p: (p.name.lower(), p.name, p.id)):
        row = [
            product.name,
            product.category.slug,
            product.unit.value,
            str(product.price),
            str(product.min_order_quantity),
            str(product.lead_time_hours),
            str(product.portions_per_unit),
            TAG_SEPARATOR.join(sorted(set(product.tags or []))),
            product.status.value,
            product.description,
        ]
        writer.writerow([_escape(cell) for cell in row])
    return out.getvalue()


# --------------------------------------------------------------------------- import


@dataclass
class _Row:
    line: int
    data: ListingData


@dataclass
class _RowParser:
    """Turns the cells of one line into ListingData, collecting problems in `errors`."""

    line: int
    cells: dict[str, str]
    category_ids: dict[str, int]
    errors: list[RowError] = field(default_factory=list)

    def error(self, column: str, message: object) -> None:
        self.errors.append(RowError(self.line, column, str(message)))

    def text(self, column: str) -> str:
        return self.cells[column].strip()

    def integer(self, column: str, minimum: int, too_small: object) -> int | None:
        value = self.text(column)
        if not value:
            self.error(column, _l("Enter a whole number."))
            return None
        if _NEGATIVE.fullmatch(value):
            self.error(column, too_small)
            return None
        if not _DIGITS.fullmatch(value):
            self.error(
                column,
                _l("“%(value)s” is not a whole number; use digits only.", value=value),
            )
            return None
        number = int(value)
        if number < minimum:
            self.error(column, too_small)
            return None
        if number > _MAX_INT:
            self.error(column, _l("This number is too large."))
            return None
        return number

    def parse(self) -> ListingData | None:
        name = self.text("name")
        if not name:
            self.error("name", _l("Enter the product name."))
        elif len(name) > MAX_NAME_LENGTH:
            self.error(
                "name",
                _l("The name is too long (at most %(max)d characters).", max=MAX_NAME_LENGTH),
            )

        category_id: int | None = None
        slug = self.text("category")
        if not slug:
            self.error("category", _l("Enter the category (its short code, e.g. nasi-box)."))
        else:
            category_id = self.category_ids.get(slug.lower())
            if category_id is None:
                self.error("category", _l("There is no category “%(slug)s”.", slug=slug))

        unit = self._choice("unit", Unit)
        price = self._price()
        min_order_quantity = self.integer(
            "min_order_quantity", 1, _l("The minimum order must be at least 1.")
        )
        lead_time_hours = self.integer(
            "lead_time_hours", 0, _l("The lead time cannot be negative.")
        )
        portions_per_unit = self.integer(
            "portions_per_unit", 1, _l("One unit feeds at least one person.")
        )
        tags = self._tags()
        status = self._choice("status", ProductStatus)

        if (
            self.errors
            or category_id is None
            or unit is None
            or price is None
            or min_order_quantity is None
            or lead_time_hours is None
            or portions_per_unit is None
            or tags is None
            or status is None
        ):
            return None
        return ListingData(
            name=name,
            description=self.text("description"),
            category_id=category_id,
            unit=unit,
            price=price,
            min_order_quantity=min_order_quantity,
            lead_time_hours=lead_time_hours,
            status=status,
            portions_per_unit=portions_per_unit,
            tags=tags,
        )

    def _price(self) -> int | None:
        value = self.text("price")
        if not value:
            self.error("price", _l("Enter the price in whole rupiah."))
            return None
        if not _DIGITS.fullmatch(value):
            self.error(
                "price",
                _l(
                    "Write the price in whole rupiah with digits only, e.g. 35000 "
                    "(not 35.000, 35,000 or Rp 35.000)."
                ),
            )
            return None
        price = int(value)
        if price <= 0:
            self.error("price", _l("The price must be more than Rp 0."))
            return None
        if price > MAX_PRICE:
            self.error("price", _l("The price is too high for one unit."))
            return None
        return price

    def _choice(self, column: str, enum_cls: type[_E]) -> _E | None:
        value = self.text(column).lower()
        allowed = ", ".join(m.value for m in enum_cls)
        if not value:
            self.error(column, _l("Enter one of: %(allowed)s.", allowed=allowed))
            return None
        try:
            return enum_cls(value)
        except ValueError:
            self.error(
                column,
                _l(
                    "“%(value)s” is not allowed here; use one of: %(allowed)s.",
                    value=self.text(column),
                    allowed=allowed,
                ),
            )
            return None

    def _tags(self) -> tuple[DietaryTag, ...] | None:
        tags: list[DietaryTag] = []
        unknown: list[str] = []
        for part in self.text("tags").split(TAG_SEPARATOR):
            value = part.strip()
            if not value:
                continue
            try:
                tags.append(DietaryTag(value.lower()))
            except ValueError:
                unknown.append(value)
        if unknown:
            self.error(
                "tags",
                _l(
                    "Unknown tag(s): %(tags)s. Use these, separated by “;”: %(allowed)s.",
                    tags=", ".join(unknown),
                    allowed=", ".join(t.value for t in DietaryTag),
                ),
            )
            return None
        return tuple(sorted(set(tags)))


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix(BOM)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFailed(
            [
                RowError(
                    line,
                    "",
                    str(
                        _l(
                            "The file is not UTF-8 text. In Excel, save it as "
                            "“CSV UTF-8 (Comma delimited)”."
                        )
                    ),
                )
            ]
        ) from None


def _delimiter(text: str) -> str:
    """Comma, unless the header uses semicolons (Excel under an Indonesian locale)."""
    for line in text.splitlines():
        if line.strip():
            return ";" if ";" in line and "," not in line else ","
    return ","


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with its line as a spreadsheet numbers it (a multi-line cell counts once)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise ImportFailed(
                [
                    RowError(
                        line + 1,
                        "",
                        str(_l("This line cannot be read: check its quotation marks.")),
                    )
                ]
            ) from None
        line += 1
        yield line, [_unescape(cell) for cell in cells]


def _is_blank(cells: list[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def _read_header(line: int, cells: list[str]) -> list[str]:
    header = [cell.strip().lower() for cell in cells]
    errors: list[RowError] = []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        errors.append(
            RowError(
                line,
                "",
                str(_l("Missing column(s): %(columns)s.", columns=", ".join(missing))),
            )
        )
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        errors.append(
            RowError(
                line,
                "",
                str(
                    _l(
                        "Unknown column(s): %(columns)s. The columns are: %(allowed)s.",
                        columns=", ".join(c or "(empty)" for c in unknown),
                        allowed=", ".join(COLUMNS),
                    )
                ),
            )
        )
    repeated = sorted({c for c in header if c in COLUMNS and header.count(c) > 1})
    if repeated:
        errors.append(
            RowError(
                line,
                "",
                str(
                    _l("Column(s) given more than once: %(columns)s.", columns=", ".join(repeated))
                ),
            )
        )
    if errors:
        raise ImportFailed(errors)
    return header


def _same(product: Product, data: ListingData) -> bool:
    return (
        product.name == data.name
        and product.description == data.description
        and product.category_id == data.category_id
        and product.unit is data.unit
        and product.price == data.price
        and product.min_order_quantity == data.min_order_quantity
        and product.lead_time_hours == data.lead_time_hours
        and product.portions_per_unit == data.portions_per_unit
        and product.status is data.status
        and sorted(set(product.tags or [])) == sorted(t.value for t in data.tags)
    )


def import_listings(
    session: Session,
    vendor: Vendor,
    data: bytes | str,
    *,
    changed_by_id: int | None = None,
    max_rows: int = 2000,
) -> ImportSummary:
    """Create and update the vendor's listings from a CSV file, all or nothing.

    Raises ImportFailed with every problem found; then nothing has been written. The caller
    commits.
    """
    records = _records(_decode(data))

    header: list[str] | None = None
    for line, cells in records:
        if not _is_blank(cells):
            header = _read_header(line, cells)
            break
    if header is None:
        raise ImportFailed([RowError(1, "", str(_l("The file is empty.")))])

    category_ids = {c.slug.lower(): c.id for c in categories(session)}
    existing: dict[str, list[Product]] = {}
    for product in session.scalars(select(Product).where(Product.vendor_id == vendor.id)):
        existing.setdefault(product.name.strip().lower(), []).append(product)

    errors: list[RowError] = []
    rows: list[_Row] = []
    first_line_of: dict[str, int] = {}
    count = 0
    for line, cells in records:
        if _is_blank(cells):
            continue
        count += 1
        if count > max_rows:
            raise ImportFailed(
                [
                    RowError(
                        line,
                        "",
                        str(
                            _l(
                                "The file has more than %(max)d listings; split it into "
                                "smaller files.",
                                max=max_rows,
                            )
                        ),
                    )
                ]
            )
        if len(cells) > len(header) and not _is_blank(cells[len(header) :]):
            errors.append(RowError(line, "", str(_l("This line has more cells than the header."))))
            continue
        cells = cells + [""] * (len(header) - len(cells))
        parser = _RowParser(line, dict(zip(header, cells, strict=False)), category_ids)
        listing = parser.parse()
        key = parser.text("name").lower()
        if key:
            if key in first_line_of:
                parser.error(
                    "name",
                    _l(
                        "This name is already used on line %(line)d of the file.",
                        line=first_line_of[key],
                    ),
                )
            else:
                first_line_of[key] = line
            if len(existing.get(key, [])) > 1:
                parser.error(
                    "name",
                    _l("More than one of your listings has this name; rename one first."),
                )
        errors.extend(parser.errors)
        if listing is not None and not parser.errors:
            rows.append(_Row(line, listing))
    if errors:
        raise ImportFailed(errors)

    created = updated = unchanged = 0
    with session.begin_nested():
        for row in rows:
            matches = existing.get(row.data.name.lower(), [])
            try:
                if not matches:
                    create_listing(session, vendor, row.data)
                    created += 1
                elif _same(matches[0], row.data):
                    unchanged += 1
                else:
                    update_listing(session, matches[0], row.data, changed_by_id=changed_by_id)
                    updated += 1
            except ListingError as exc:
                errors.append(
                    RowError(row.line, _FIELD_TO_COLUMN.get(exc.field, exc.field), str(exc.message))
                )
        if errors:
            raise ImportFailed(errors)  # leaving the block rolls the savepoint back
    return ImportSummary(created=created, updated=updated, unchanged=unchanged)

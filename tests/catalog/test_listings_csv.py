"""Bulk import and export of a vendor's listings as CSV."""

import csv
import io

import pytest
from sqlalchemy import func, select

import catalog.listings_csv as listings_csv
from catalog.listings_csv import (
    COLUMNS,
    ImportFailed,
    ImportSummary,
    RowError,
    export_listings,
    import_listings,
)
from catalog.models import PriceChange, Product, ProductStatus, ReviewState, Unit
from catalog.services import ListingError
from tests.support import (
    CategoryFactory,
    ProductFactory,
    UserFactory,
    VendorFactory,
    bind_factories,
)

HEADER = ",".join(COLUMNS)


@pytest.fixture
def vendor(db):
    bind_factories(db)
    return VendorFactory()


@pytest.fixture
def nasi_box(db):
    bind_factories(db)
    return CategoryFactory(slug="nasi-box", name_id="Nasi Kotak", name_en="Rice box")


@pytest.fixture
def snack(db):
    bind_factories(db)
    return CategoryFactory(slug="snack-box", name_id="Kue Kotak", name_en="Snack box")


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\r\n".join([header, *rows]) + "\r\n"


def counts(db):
    return (
        db.scalar(select(func.count()).select_from(Product)),
        db.scalar(select(func.count()).select_from(PriceChange)),
    )


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def failure(db, vendor, text, **kw) -> list[RowError]:
    with pytest.raises(ImportFailed) as info:
        import_listings(db, vendor, text, **kw)
    return info.value.errors


# ------------------------------------------------------------------ export


def test_export_is_utf8_csv_with_bom_crlf_and_ordered_by_name(db, vendor, nasi_box, snack):
    ProductFactory(vendor=vendor, category=snack, name="snack Lemper", price=12_000)
    ProductFactory(
        vendor=vendor,
        category=nasi_box,
        name="Nasi Box Rendang",
        price=45_000,
        min_order_quantity=20,
        lead_time_hours=48,
        portions_per_unit=1,
        tags=["no_nuts", "halal"],
        status=ProductStatus.PAUSED,
        description='Nasi, rendang "asli",\nsayur nangka — pedas',
    )
    ProductFactory(name="Another vendor's product")  # not exported

    text = export_listings(db, vendor)

    assert text.startswith("\ufeff" + HEADER + "\r\n")
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    rows = parse(text)
    assert rows[0] == list(COLUMNS)
    assert [r[0] for r in rows[1:]] == ["Nasi Box Rendang", "snack Lemper"]
    assert rows[1] == [
        "Nasi Box Rendang",
        "nasi-box",
        "box",
        "45000",
        "20",
        "48",
        "1",
        "halal;no_nuts",
        "paused",
        'Nasi, rendang "asli",\nsayur nangka — pedas',
    ]


def test_export_then_import_changes_nothing(db, vendor, nasi_box, snack):
    ProductFactory(
        vendor=vendor,
        category=nasi_box,
        name="Nasi Box Rendang",
        tags=["halal", "no_nuts"],
        description='Nasi, rendang "asli",\nsayur nangka',
    )
    ProductFactory(vendor=vendor, category=snack, name="Lemper", status=ProductStatus.PAUSED)
    ProductFactory(vendor=vendor, category=snack, name="=Kue (formula-like)", description="-")
    before = counts(db)

    summary = import_listings(db, vendor, export_listings(db, vendor).encode("utf-8"))

    assert summary == ImportSummary(created=0, updated=0, unchanged=3)
    assert counts(db) == before
    assert all(p.review_state is ReviewState.APPROVED for p in db.scalars(select(Product)).all())


def test_cells_a_spreadsheet_would_run_as_formulas_are_escaped_and_restored(db, vendor, nasi_box):
    names = ["=HYPERLINK(1)", "+62 Catering", "-Diskon", "@SUM(A1)", "'=already quoted", "Ok"]
    for name in names:
        ProductFactory(vendor=vendor, category=nasi_box, name=name, description="=1+1")
    before = counts(db)

    text = export_listings(db, vendor)

    rows = {r[0]: r for r in parse(text)[1:]}
    assert set(rows) == {
        "'=HYPERLINK(1)",
        "'+62 Catering",
        "'-Diskon",
        "'@SUM(A1)",
        "''=already quoted",
        "Ok",
    }
    assert {r[-1] for r in rows.values()} == {"'=1+1"}
    assert import_listings(db, vendor, text) == ImportSummary(0, 0, 6)
    assert counts(db) == before


def test_cells_starting_with_tab_or_carriage_return_are_escaped(db, vendor, nasi_box):
    ProductFactory(vendor=vendor, category=nasi_box, name="A", description="\tx")
    ProductFactory(vendor=vendor, category=nasi_box, name="B", description="\rx")
    rows = parse(export_listings(db, vendor))
    assert [r[-1] for r in rows[1:]] == ["'\tx", "'\rx"]


def test_import_restores_an_escaped_cell_on_a_new_listing(db, vendor, nasi_box):
    import_listings(db, vendor, csv_text("'=1+1,nasi-box,box,35000,1,24,1,,published,'-a"))
    product = db.scalars(select(Product)).one()
    assert product.name == "=1+1"
    assert product.description == "-a"


# ------------------------------------------------------------------ import: writes


def test_import_creates_new_listings_for_review(db, vendor, nasi_box):
    summary = import_listings(
        db,
        vendor,
        csv_text(
            "Nasi Box Ayam Bakar,nasi-box,box,35000,10,24,1,halal; no_nuts ,published,Enak",
            " Tumpeng Mini ,NASI-BOX,Package,750000,1,48,10,,Paused,",
        ),
    )

    assert summary == ImportSummary(created=2, updated=0, unchanged=0)
    ayam, tumpeng = db.scalars(select(Product).order_by(Product.name)).all()
    assert ayam.vendor_id == vendor.id
    assert ayam.tags == ["halal", "no_nuts"]
    assert ayam.min_order_quantity == 10
    assert ayam.description == "Enak"
    assert tumpeng.name == "Tumpeng Mini"
    assert tumpeng.unit is Unit.PACKAGE
    assert tumpeng.status is ProductStatus.PAUSED
    assert tumpeng.portions_per_unit == 10
    assert {ayam.review_state, tumpeng.review_state} == {ReviewState.PENDING}


def test_import_updates_existing_listings_by_name_with_price_history(db, vendor, nasi_box):
    small_rise = ProductFactory(vendor=vendor, category=nasi_box, name="Nasi Box A", price=35_000)
    big_rise = ProductFactory(vendor=vendor, category=nasi_box, name="Nasi Box B", price=35_000)
    same = ProductFactory(vendor=vendor, category=nasi_box, name="Nasi Box C", price=35_000)
    other_vendors = ProductFactory(category=nasi_box, name="Nasi Box A", price=35_000)
    curator = UserFactory()
    rows = {r[0]: r for r in parse(export_listings(db, vendor))[1:]}
    rows["Nasi Box A"][3] = "38000"  # +8.6%: stays approved
    rows["Nasi Box B"][3] = "40000"  # +14%: back to the curator
    out = io.StringIO()
    csv.writer(out).writerows([COLUMNS, *rows.values()])

    summary = import_listings(db, vendor, out.getvalue(), changed_by_id=curator.id)

    assert summary == ImportSummary(created=0, updated=2, unchanged=1)
    assert small_rise.price == 38_000
    assert big_rise.price == 40_000
    assert small_rise.review_state is ReviewState.APPROVED
    assert big_rise.review_state is ReviewState.PENDING
    assert same.review_state is ReviewState.APPROVED
    assert other_vendors.price == 35_000
    changes = db.scalars(select(PriceChange).order_by(PriceChange.new_price)).all()
    assert [(c.product_id, c.old_price, c.new_price, c.changed_by_id) for c in changes] == [
        (small_rise.id, 35_000, 38_000, curator.id),
        (big_rise.id, 35_000, 40_000, curator.id),
    ]


def test_names_match_regardless_of_case_and_the_new_spelling_is_saved(db, vendor, nasi_box):
    product = ProductFactory(vendor=vendor, category=nasi_box, name="Nasi Box A", price=35_000)
    summary = import_listings(
        db, vendor, csv_text("NASI BOX A,nasi-box,box,35000,1,24,1,,published,x")
    )
    assert summary == ImportSummary(created=0, updated=1, unchanged=0)
    assert product.name == "NASI BOX A"
    # a new name, even only a new spelling, is checked by the curator again
    assert product.review_state is ReviewState.PENDING
    assert counts(db) == (1, 0)


def test_every_problem_is_reported_with_line_and_column_and_nothing_is_written(
    db, vendor, nasi_box
):
    existing = ProductFactory(vendor=vendor, category=nasi_box, name="Nasi Box A", price=35_000)
    before = counts(db)
    text = csv_text(
        "Nasi Box A,nasi-box,box,50000,1,24,1,,published,valid update",  # 2: fine
        "Brand new,nasi-box,box,20000,1,24,1,,published,valid create",  # 3: fine
        ",nasi-box,box,20000,1,24,1,,published,",  # 4
        "Kue,kue-basah,box,20000,1,24,1,,published,",  # 5
        "Kue 2,nasi-box,kilo,20000,1,24,1,,published,",  # 6
        "Kue 3,nasi-box,box,35.000,1,24,1,,published,",  # 7
        "Kue 4,nasi-box,box,0,1,24,1,,published,",  # 8
        "Kue 5,nasi-box,box,20000,0,-2,1,,published,",  # 9
        "Kue 6,nasi-box,box,20000,1,24,1,halal;keto,published,",  # 10
        "BRAND NEW,nasi-box,box,20000,1,24,1,,published,",  # 11
        "",  # 12: blank, skipped
        "Kue 7,nasi-box,box,20000,1,24,1,,draft,",  # 13
        "Kue 8,nasi-box,box,Rp 20.000,1,24,abc,,published,,surplus",  # 14
    )

    errors = failure(db, vendor, text)

    assert [(e.line, e.field) for e in errors] == [
        (4, "name"),
        (5, "category"),
        (6, "unit"),
        (7, "price"),
        (8, "price"),
        (9, "min_order_quantity"),
        (9, "lead_time_hours"),
        (10, "tags"),
        (11, "name"),
        (13, "status"),
        (14, ""),
    ]
    messages = {(e.line, e.field): e.message for e in errors}
    assert "kue-basah" in messages[5, "category"]
    assert "kilo" in messages[6, "unit"] and "portion" in messages[6, "unit"]
    assert "digits only" in messages[7, "price"] and "35.000" in messages[7, "price"]
    assert "keto" in messages[10, "tags"]
    assert "line 3" in messages[11, "name"]
    assert "more cells" in messages[14, ""]
    assert counts(db) == before
    assert existing.price == 35_000
    assert db.scalar(select(Product.price).where(Product.id == existing.id)) == 35_000


def test_a_listing_error_while_writing_rolls_back_the_whole_import(
    db, vendor, nasi_box, monkeypatch
):
    existing = ProductFactory(vendor=vendor, category=nasi_box, name="Nasi Box A", price=35_000)
    before = counts(db)
    real_create = listings_csv.create_listing

    def create_listing(session, vendor, data):
        if data.name == "Second":
            raise ListingError("category_id", "Choose a category.")
        return real_create(session, vendor, data)

    monkeypatch.setattr(listings_csv, "create_listing", create_listing)
    text = csv_text(
        "Nasi Box A,nasi-box,box,60000,1,24,1,,published,changed",
        "First,nasi-box,box,20000,1,24,1,,published,",
        "Second,nasi-box,box,20000,1,24,1,,published,",
    )

    errors = failure(db, vendor, text)

    assert errors == [RowError(4, "category", "Choose a category.")]
    assert counts(db) == before
    db.expire_all()
    assert existing.price == 35_000
    assert existing.review_state is ReviewState.APPROVED
    assert db.scalars(select(Product.name)).all() == ["Nasi Box A"]


def test_blank_lines_are_skipped(db, vendor, nasi_box):
    text = "\r\n" + HEADER + "\r\n,,,,,,,,,\r\n\r\nA,nasi-box,box,1000,1,0,1,,published,\r\n\r\n"
    assert import_listings(db, vendor, text) == ImportSummary(1, 0, 0)


def test_a_file_with_only_the_header_imports_nothing(db, vendor):
    assert import_listings(db, vendor, HEADER + "\r\n") == ImportSummary(0, 0, 0)


def test_semicolon_separated_files_from_excel_are_read(db, vendor, nasi_box):
    text = ";".join(COLUMNS) + '\r\nA;nasi-box;box;1000;1;0;1;"halal;vegan";published;x, y\r\n'
    import_listings(db, vendor, text)
    product = db.scalars(select(Product)).one()
    assert product.tags == ["halal", "vegan"]
    assert product.description == "x, y"


# ------------------------------------------------------------------ import: the file itself


def test_missing_columns_are_named(db, vendor):
    header = "name,category,unit,price,min_order_quantity,lead_time_hours,status"
    [error] = failure(db, vendor, csv_text("A,nasi-box,box,1000,1,0,published", header=header))
    assert error.line == 1
    assert "portions_per_unit, tags, description" in error.message


def test_unknown_and_repeated_columns_are_refused(db, vendor):
    header = " Name ,CATEGORY,unit,price,min_order_quantity,lead_time_hours,portions_per_unit,"
    header += "tags,status,description,colour,price"
    errors = failure(db, vendor, csv_text(header=header))
    assert [e.line for e in errors] == [1, 1]
    assert "colour" in errors[0].message
    assert "price" in errors[1].message


def test_an_empty_file_is_refused(db, vendor):
    [error] = failure(db, vendor, b"")
    assert "empty" in error.message
    [error] = failure(db, vendor, "\ufeff\r\n  \r\n")
    assert "empty" in error.message


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_with_or_without_bom_is_accepted(db, vendor, nasi_box, bom):
    text = csv_text("Kue Lapis Legit — Pandan,nasi-box,box,1000,1,0,1,,published,Gurih")
    import_listings(db, vendor, bom + text.encode("utf-8"))
    product = db.scalars(select(Product)).one()
    assert product.name == "Kue Lapis Legit — Pandan"


def test_a_bom_in_text_is_ignored(db, vendor, nasi_box):
    import_listings(db, vendor, "\ufeff" + csv_text("A,nasi-box,box,1000,1,0,1,,published,"))
    assert db.scalars(select(Product.name)).all() == ["A"]


def test_text_in_another_encoding_is_refused(db, vendor, nasi_box):
    text = csv_text(
        "Kue,nasi-box,box,1000,1,0,1,,published,ok", "Café,nasi-box,box,1,1,0,1,,published,"
    )
    [error] = failure(db, vendor, text.encode("cp1252"))
    assert error.line == 3
    assert "UTF-8" in error.message
    assert counts(db) == (0, 0)


def test_a_broken_quote_is_refused(db, vendor, nasi_box):
    text = csv_text('A,nasi-box,box,1000,1,0,1,,published,"open', "B")
    [error] = failure(db, vendor, text)
    assert "quotation" in error.message


def test_too_many_rows_are_refused(db, vendor, nasi_box):
    rows = [f"Kue {n},nasi-box,box,1000,1,0,1,,published," for n in range(4)]
    [error] = failure(db, vendor, csv_text(*rows), max_rows=3)
    assert error.line == 5
    assert "more than 3" in error.message
    assert counts(db) == (0, 0)
    assert import_listings(db, vendor, csv_text(*rows[:3]), max_rows=3).created == 3

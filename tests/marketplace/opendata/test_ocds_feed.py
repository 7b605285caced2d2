"""The public OCDS feed: valid against the OCDS 1.1.5 schemas, only completed orders, paged by
date, no personal data, clear errors, open without login, and a fixed number of queries."""

from __future__ import annotations

import json
import os
import re
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from sqlalchemy import event, select, update

from catalog.db import utcnow
from catalog.models import BusinessScale
from marketplace.delivery import services as delivery
from marketplace.ordering.models import Order
from marketplace.ordering.rules import JAKARTA
from marketplace.payments import services as payments
from marketplace.payments.models import Payment
from tests.support import pay_by_transfer

ROOT = Path(__file__).parents[3]
#: the schemas shared beside the checkout when present, else the copy kept in tests/data
SHARED_SCHEMAS = ROOT.parent / "shared/data/ocds-1.1.5"
SCHEMA_DIR = Path(
    os.environ.get(
        "OCDS_SCHEMA_DIR",
        SHARED_SCHEMAS if SHARED_SCHEMAS.is_dir() else ROOT / "tests/data/ocds-1.1.5",
    )
)
FEED = "/open-data/ocds/releases.json"


def test_the_kept_copy_of_the_schemas_is_the_shared_one():
    if not SHARED_SCHEMAS.is_dir():
        pytest.skip("no shared copy beside this checkout")
    for name in ("release-package-schema.json", "release-schema.json"):
        kept = (ROOT / "tests/data/ocds-1.1.5" / name).read_bytes()
        assert kept == (SHARED_SCHEMAS / name).read_bytes()


# Validation against the schemas, resolved locally --------------------------------------

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
format_checker = FormatChecker(formats=())


@format_checker.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_RFC3339.fullmatch(value)) and bool(datetime.fromisoformat(value))


@format_checker.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path) and " " not in value


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    package_schema = json.loads((SCHEMA_DIR / "release-package-schema.json").read_text())
    release_schema = json.loads((SCHEMA_DIR / "release-schema.json").read_text())
    # The package refers to the release schema by its URL: serve it from disk, never fetch.
    registry = Registry().with_resource(
        release_schema["id"], Resource.from_contents(release_schema, DRAFT4)
    )
    assert package_schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    Draft4Validator.check_schema(package_schema)
    Draft4Validator.check_schema(release_schema)
    return Draft4Validator(package_schema, registry=registry, format_checker=format_checker)


def assert_valid(validator: Draft4Validator, package: dict) -> None:
    errors = sorted(validator.iter_errors(package), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def fetch(client, validator=None, **params):  # type: ignore[no-untyped-def]
    response = client.get(FEED, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    package = response.get_json()
    if validator is not None:
        assert_valid(validator, package)
    return response, package


def by_ocid(package: dict) -> dict[str, dict]:
    return {release["ocid"]: release for release in package["releases"]}


def ocid(order: Order) -> str:
    return f"ocds-eorder-{order.number}"


@pytest.fixture
def anonymous(app, db):  # type: ignore[no-untyped-def]
    """A client with no session at all: nobody logged in, no language chosen."""
    test_client = app.test_client()
    test_client.test_session = db
    return test_client


# Content ----------------------------------------------------------------------------


def test_the_validator_refuses_what_the_schema_refuses(validator):
    package = {
        "uri": "https://eorder.example/open-data/ocds/releases.json",
        "version": "1.1",
        "publishedDate": "2026-03-02",
        "publisher": {"name": "e-Order"},
        "releases": [
            {"ocid": "x", "id": "1", "date": "2026", "tag": ["bogus"], "initiationType": "x"}
        ],
    }
    messages = " ".join(e.message for e in validator.iter_errors(package))
    assert "'bogus' is not one of" in messages
    assert "'x' is not one of" in messages
    assert "is not a 'date-time'" in messages


def test_received_paid_and_reconciled_orders_are_published_and_valid(
    anonymous, db, world, validator
):
    received = world.order_in(db, "received")
    paid = world.order_in(db, "paid")
    reconciled = world.order_in(db, "reconciled")
    for status in ("submitted", "approved", "delivered", "cancelled", "rejected", "disputed"):
        world.order_in(db, status)

    response, package = fetch(anonymous, validator)

    assert response.mimetype == "application/json"
    assert set(by_ocid(package)) == {ocid(received), ocid(paid), ocid(reconciled)}
    assert package["version"] == "1.1"
    assert package["publisher"] == {"name": "e-Order"}
    assert package["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert package["uri"] == "http://localhost/open-data/ocds/releases.json"
    assert package["publishedDate"] == max(r["date"] for r in package["releases"])
    dates = [(r["date"], r["id"]) for r in package["releases"]]
    assert dates == sorted(dates)

    release = by_ocid(package)[ocid(paid)]
    assert release["tag"] == ["award", "contract", "implementation"]
    assert release["initiationType"] == "tender"
    assert release["tender"]["procurementMethod"] == "direct"
    assert release["tender"]["procurementMethodDetails"] == "e-Order catalogue purchase"
    assert release["tender"]["mainProcurementCategory"] == "services"  # a caterer
    buyer, supplier = release["parties"]
    assert buyer["id"] == f"ID-KODEUNIT-{world.agency.code}"
    assert buyer["name"] == world.agency.name
    assert buyer["identifier"] == {
        "scheme": "ID-KODEUNIT",
        "id": world.agency.code,
        "legalName": world.agency.name,
    }
    assert buyer["roles"] == ["buyer", "procuringEntity", "payer"]
    assert release["buyer"] == {"id": buyer["id"], "name": buyer["name"]}
    assert supplier["name"] == world.vendor.trading_name
    assert supplier["roles"] == ["supplier", "payee"]
    assert supplier["details"] == {"scale": "micro"}
    assert supplier["address"] == {"locality": "Jakarta Selatan", "countryName": "Indonesia"}

    [award] = release["awards"]
    assert award["suppliers"] == [{"id": supplier["id"], "name": supplier["name"]}]
    assert award["value"] == {"amount": paid.total, "currency": "IDR"}
    [line] = paid.lines
    assert award["items"] == [
        {
            "id": str(line.id),
            "description": line.product_name,
            "classification": {
                "scheme": "EORDER-CATEGORY",
                "id": world.product.category.slug,
                "description": world.product.category.name_en,
                "description_id": world.product.category.name_id,
            },
            "quantity": 10,
            "unit": {"name": "box", "value": {"amount": 35_000, "currency": "IDR"}},
        }
    ]
    [contract] = release["contracts"]
    assert contract["awardID"] == award["id"]
    assert contract["status"] == "terminated"
    assert contract["value"] == {"amount": paid.received_total, "currency": "IDR"}
    assert "items" not in contract  # all received: the award's items stand
    assert {d["documentType"] for d in contract["documents"]} == {
        "completionCertificate",
        "invoice",
    }
    for document in contract["documents"]:
        assert "url" not in document
        assert document["format"] == "offline/print"
        assert document["title"].startswith(("BAST/", "INV/"))
    [payment] = [p for p in db.scalars(select(Payment)) if paid.id in p.order_ids]
    [transaction] = contract["implementation"]["transactions"]
    assert transaction["value"]["currency"] == "IDR"
    assert transaction["value"]["amount"] == sum(
        a.amount for a in payment.allocations if a.order_id == paid.id
    )
    assert transaction["payer"] == release["buyer"]
    assert transaction["payee"] == award["suppliers"][0]
    assert transaction["date"].endswith("T00:00:00+07:00")

    received_release = by_ocid(package)[ocid(received)]
    assert received_release["tag"] == ["award", "contract"]
    assert received_release["contracts"][0]["status"] == "active"
    assert "implementation" not in received_release["contracts"][0]
    assert received_release["parties"][0]["roles"] == ["buyer", "procuringEntity"]
    assert by_ocid(package)[ocid(reconciled)]["contracts"][0]["status"] == "terminated"


def test_a_partial_receipt_publishes_what_was_received(anonymous, db, world, validator):
    order = world.order_in(db, "delivered")
    [line] = order.lines
    delivery.receive_order(db, world.approver, order, [delivery.LineReceipt(line.id, 4)])

    _response, package = fetch(anonymous, validator)

    [release] = package["releases"]
    assert release["awards"][0]["value"]["amount"] == 350_000
    assert release["awards"][0]["items"][0]["quantity"] == 10
    contract = release["contracts"][0]
    assert contract["value"] == {"amount": 140_000, "currency": "IDR"}
    assert contract["items"][0]["quantity"] == 4


def test_a_refund_is_a_transaction_from_the_supplier_to_the_buyer(anonymous, db, world, validator):
    order = world.order_in(db, "paid")
    [payment] = [p for p in db.scalars(select(Payment)) if order.id in p.order_ids]
    payments.request_refund(
        db, world.treasurer, payment, order, 10_000, "Kelebihan bayar", reference="RET-0001"
    )

    _response, package = fetch(anonymous, validator)

    release = package["releases"][0]
    paid, refunded = release["contracts"][0]["implementation"]["transactions"]
    assert paid["payer"] == refunded["payee"] == release["buyer"]
    assert paid["payee"] == refunded["payer"] == release["awards"][0]["suppliers"][0]
    assert refunded["value"] == {"amount": 10_000, "currency": "IDR"}
    assert "Kelebihan" not in json.dumps(package) and "RET-0001" not in json.dumps(package)


@pytest.mark.parametrize(
    ("scale", "published"),
    [(BusinessScale.MICRO, "micro"), (BusinessScale.SMALL, "sme"), (BusinessScale.MEDIUM, "sme")],
)
def test_the_supplier_scale_uses_the_ocds_codes(anonymous, db, world, validator, scale, published):
    world.vendor.scale = scale
    world.vendor.nib = "9120001234567"
    world.order_in(db, "received")

    _response, package = fetch(anonymous, validator)

    supplier = package["releases"][0]["parties"][1]
    assert supplier["details"] == {"scale": published}
    assert supplier["id"] == "ID-NIB-9120001234567"
    assert supplier["identifier"] == {
        "scheme": "ID-NIB",
        "id": "9120001234567",
        "legalName": world.vendor.legal_name,
    }


def test_no_personal_data_is_published(anonymous, db, world, validator):
    vendor = world.vendor
    vendor.npwp = "0912345678901234"
    vendor.bank_name = "Bank DKI"
    vendor.bank_account_number = "1234567890"
    vendor.bank_account_holder = "Siti Rahmawati"
    vendor.contact_person = "Siti Rahmawati"
    vendor.phone = "0813-9876-5432"
    world.agency.address = "Jl. Medan Merdeka Selatan No. 8-9"
    orders = [world.order_in(db, status) for status in ("received", "paid", "reconciled")]

    response, package = fetch(anonymous, validator)

    text = response.get_data(as_text=True)
    assert len(package["releases"]) == 3
    people = [world.requester, world.approver, world.treasurer, world.finance, world.vendor_owner]
    withheld = [
        *(person.name for person in people),
        *(person.email for person in people),
        "Joko Susilo",  # the recipient
        "0812-1111-2222",  # the recipient's phone
        "Jl. Kebon Sirih",  # the delivery address
        vendor.phone,
        vendor.npwp,
        vendor.bank_account_number,
        vendor.bank_account_holder,
        vendor.bank_name,
        "RKUD",  # the payer's account
        *(order.payment_reference for order in orders if order.payment_reference),
        orders[0].activity_name,
        "@",
    ]
    found = [value for value in withheld if value and value in text]
    assert not found
    for key in ("contactPoint", "email", "telephone", "url"):
        assert f'"{key}"' not in text


# Pagination -------------------------------------------------------------------------


def _released_on(db, order: Order, day: datetime) -> None:  # type: ignore[no-untyped-def]
    """Move the order's receipt later, to `day` at noon in Jakarta (the last change)."""
    db.execute(update(Order).where(Order.id == order.id).values(received_at=day))


def test_pages_by_date(anonymous, db, world, validator, app, monkeypatch):
    monkeypatch.setitem(app.config, "OCDS_PAGE_SIZE", 2)
    base = (utcnow().astimezone(JAKARTA) + timedelta(days=10)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    orders = [world.order_in(db, "received", quantity=2) for _ in range(5)]
    for offset, order in enumerate(orders):
        _released_on(db, order, base + timedelta(days=offset))
    days = [(base + timedelta(days=offset)).date().isoformat() for offset in range(5)]

    first, package = fetch(anonymous, validator, since=days[1], until=days[3])
    assert [r["ocid"] for r in package["releases"]] == [ocid(o) for o in orders[1:3]]
    assert package["releases"][0]["date"] == (base + timedelta(days=1)).isoformat()
    assert package["uri"] == f"http://localhost{FEED}?since={days[1]}&until={days[3]}"
    assert first.headers["Link"] == (
        f'<http://localhost{FEED}?since={days[1]}&until={days[3]}&page=2>; rel="next"'
    )

    second, package = fetch(anonymous, validator, since=days[1], until=days[3], page=2)
    assert [r["ocid"] for r in package["releases"]] == [ocid(orders[3])]
    assert second.headers["Link"] == (
        f'<http://localhost{FEED}?since={days[1]}&until={days[3]}>; rel="prev"'
    )

    beyond = anonymous.get(FEED, query_string={"since": days[1], "until": days[3], "page": 3})
    assert beyond.status_code == 404
    assert beyond.mimetype == "application/problem+json"

    _response, package = fetch(anonymous, validator, since=days[4])
    assert [r["ocid"] for r in package["releases"]] == [ocid(orders[4])]
    _response, package = fetch(anonymous, validator, until=days[0])
    assert [r["ocid"] for r in package["releases"]] == [ocid(orders[0])]
    _response, package = fetch(anonymous, validator, page=3)
    assert [r["ocid"] for r in package["releases"]] == [ocid(orders[4])]


def test_a_later_payment_makes_a_new_release_dated_by_it(anonymous, db, world, validator):
    order = world.order_in(db, "received")
    _response, before = fetch(anonymous, validator)

    pay_by_transfer(db, world.treasurer, order)
    later = utcnow() + timedelta(days=3)
    db.execute(update(Payment).values(succeeded_at=later))
    db.execute(update(Order).where(Order.id == order.id).values(paid_at=later))

    _response, after = fetch(anonymous, validator)

    [old], [new] = before["releases"], after["releases"]
    assert old["ocid"] == new["ocid"]
    assert old["id"] != new["id"]
    assert new["date"] == later.astimezone(JAKARTA).replace(microsecond=0).isoformat()
    assert "implementation" in new["tag"]
    today = (utcnow() + timedelta(days=3)).astimezone(JAKARTA).date().isoformat()
    _response, since_then = fetch(anonymous, validator, since=today)
    assert [r["id"] for r in since_then["releases"]] == [new["id"]]


def test_nothing_to_publish_is_a_clear_404(anonymous, db, world):
    world.order_in(db, "submitted")

    response = anonymous.get(FEED)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


# Errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("since=2026-13-01", "since"),
        ("since=yesterday", "since"),
        ("since=20260101", "since"),
        ("until=2026-02-30", "until"),
        ("since=2026-02-01&until=2026-01-31", "since"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=two", "page"),
        ("page=1.5", "page"),
        ("page=1&page=2", "page"),
        ("from=2026-01-01", "from"),
    ],
)
def test_bad_parameters_are_a_problem_400(client, db, world, query, mentions):
    world.order_in(db, "received")

    response = client.get(f"{FEED}?{query}")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 400
    assert problem["title"] == "Invalid query parameter"
    assert mentions in problem["detail"]
    assert "public" not in response.headers.get("Cache-Control", "")


# Access and caching -----------------------------------------------------------------


def test_open_to_anyone_without_login_and_cacheable(anonymous, db, world):
    world.order_in(db, "received")

    response = anonymous.get(FEED)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] in ("public, max-age=300", "max-age=300, public")
    assert "Set-Cookie" not in response.headers
    assert "Link" not in response.headers
    etag = response.headers["ETag"]
    again = anonymous.get(FEED, headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_the_explanation_page_is_public_and_links_the_feed(anonymous, client, db):
    response = anonymous.get("/open-data/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"

    page = client.get("/open-data/").get_data(as_text=True)  # in English
    assert "Open Contracting Data Standard" in page
    assert f'href="http://localhost{FEED}"' in page
    assert "https://creativecommons.org/licenses/by/4.0/" in page


def test_the_configured_prefix_and_publisher_are_used(anonymous, app, db, world, monkeypatch):
    monkeypatch.setitem(app.config, "OCDS_PREFIX", "ocds-a1b2c3")
    monkeypatch.setitem(app.config, "OCDS_PUBLISHER_NAME", "Pemprov DKI Jakarta")
    order = world.order_in(db, "received")

    _response, package = fetch(anonymous)

    assert package["releases"][0]["ocid"] == f"ocds-a1b2c3-{order.number}"
    assert package["publisher"]["name"] == "Pemprov DKI Jakarta"


# Queries ----------------------------------------------------------------------------


@contextmanager
def counting_queries(engine):  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_number_of_queries_does_not_grow_with_the_orders(anonymous, app, db, world):
    engine = app.extensions["db_engine"]
    world.order_in(db, "paid")
    db.commit()
    with counting_queries(engine) as few:
        fetch(anonymous)

    for status in ("received", "paid", "reconciled", "paid", "received"):
        world.order_in(db, status, quantity=3)
    db.commit()
    with counting_queries(engine) as many:
        _response, package = fetch(anonymous)

    assert len(package["releases"]) == 6
    assert len(many) == len(few), "\n\n".join(many)

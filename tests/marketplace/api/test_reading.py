"""Reading through the API: the catalogue and its search, pages of lists, budget ledgers,
and the OpenAPI document that describes every route."""

from __future__ import annotations

import re

from catalog.models import ProductStatus
from tests.marketplace.api.conftest import API
from tests.support import ProductFactory


def test_lists_come_in_pages_with_links(api, world, db):
    for _ in range(3):
        world.order_in(db, "submitted", quantity=2)
    client = api(world.approver)
    first = client.get("/orders?per_page=2").get_json()
    assert first["page"] == 1 and first["per_page"] == 2 and first["total"] == 3
    assert len(first["data"]) == 2
    assert first["links"]["prev"] is None
    assert first["links"]["next"] == "/api/v1/orders?page=2&per_page=2"
    second = client.get(first["links"]["next"].removeprefix(API)).get_json()
    assert [o["id"] for o in second["data"]] == [min(o["id"] for o in first["data"]) - 1]
    assert second["links"]["next"] is None
    assert second["links"]["prev"] == "/api/v1/orders?page=1&per_page=2"
    beyond = client.get("/orders?page=9&per_page=2").get_json()
    assert beyond["data"] == [] and beyond["total"] == 3

    filtered = client.get("/orders?status=approved").get_json()
    assert filtered["total"] == 0
    assert "status=approved" in filtered["links"]["self"]


def test_page_parameters_are_checked(api, world):
    client = api(world.approver)
    for query, field in (
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("status=lost", "status"),
        ("page=1&page=2", "page"),
    ):
        response = client.get(f"/orders?{query}")
        assert response.status_code == 400, query
        assert field in response.get_json()["errors"], query


def test_the_catalogue_searches_the_index_and_lists_the_newest(api, world, db):
    ProductFactory(vendor=world.vendor, category=world.product.category, name="Kopi Tubruk Termos")
    ProductFactory(
        vendor=world.vendor,
        category=world.product.category,
        name="Kopi Susu Gula Aren",
        status=ProductStatus.PAUSED,
    )
    client = api(world.requester)
    found = client.get("/catalog/products?q=kopi").get_json()
    assert [p["name"] for p in found["data"]] == ["Kopi Tubruk Termos"]
    assert found["total"] == 1
    product = found["data"][0]
    assert product["price"] == 35_000 and product["currency"] == "IDR"
    assert product["vendor"]["id"] == world.vendor.id

    newest = client.get("/catalog/products?per_page=1").get_json()
    assert newest["total"] == 3  # the paused product is not orderable
    assert newest["data"][0]["name"] == "Kopi Tubruk Termos"
    none = client.get(f"/catalog/products?category={world.product.category.slug}x").get_json()
    assert none["total"] == 0


def test_a_product_that_cannot_be_ordered_is_not_there_except_for_its_vendor(api, world, db):
    paused = ProductFactory(
        vendor=world.vendor, category=world.product.category, status=ProductStatus.PAUSED
    )
    assert api(world.requester).get(f"/catalog/products/{paused.id}").status_code == 404
    own = api(world.vendor_owner).get(f"/catalog/products/{paused.id}")
    assert own.status_code == 200
    assert own.get_json()["orderable"] is False


def test_a_budget_line_and_its_ledger(api, world, db):
    order = world.order_in(db, "submitted")
    client = api(world.requester)
    line = client.get(f"/budget-lines/{world.line.id}").get_json()
    assert line["allocation"] == 5_000_000
    assert line["committed"] == order.total
    assert line["available"] == 5_000_000 - order.total
    ledger = client.get(f"/budget-lines/{world.line.id}/ledger?per_page=1").get_json()
    assert ledger["total"] == 2
    assert [e["kind"] for e in ledger["data"]] == ["allocate"]
    second = client.get(f"/budget-lines/{world.line.id}/ledger?page=2&per_page=1").get_json()
    [commit] = second["data"]
    assert (commit["kind"], commit["amount"], commit["order_id"]) == (
        "commit",
        order.total,
        order.id,
    )
    assert commit["order_number"] == order.number
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", commit["created_at"])


def test_the_document_is_public_and_names_every_route(client, app):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {
        (method.upper(), API + path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    actions = sorted(path.rsplit("/", 1)[1] for path in document["paths"] if "/actions/" in path)
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi_document":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        paths = (
            [path.replace("{action}", action) for action in actions]
            if "{action}" in path
            else [path]
        )
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed |= {(method, p) for p in paths}
    assert routed == documented

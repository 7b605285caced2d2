"""The authorization matrix (authorization_matrix.csv) run against the app: every row's
(route, role, tenant) gets exactly the expected status, and no person of one agency or vendor
reaches an object of another."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from marketplace.ordering.models import Order
from tests.security.matrix_world import ROLES, build_matrix_world
from tests.support import PASSWORD

MATRIX = Path(__file__).with_name("authorization_matrix.csv")

# Routes with an id that are public by design: the catalogue shows every vendor's listings.
PUBLIC_CATALOGUE = {"shop.product", "shop.vendor", "api.product"}

# GET routes with an <int:...> argument that the matrix deliberately leaves out, and why.
EXCLUDED_RULES: dict[str, str] = {
    # (none at present: every GET route with an id is in the matrix)
}

# People bound to one side of the world: the object's side must match theirs.
OWN_SIDE = {"requester", "approver", "budget_holder", "treasurer", "vendor_owner", "vendor_staff"}
FOREIGN_SIDE = {"other_requester", "other_approver", "other_vendor_owner"}


def load_matrix() -> list[dict[str, str]]:
    with MATRIX.open(newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    return list(csv.DictReader(lines))


ROWS = load_matrix()
ROWS_BY_ROLE: dict[str, list[dict[str, str]]] = defaultdict(list)
for _row in ROWS:
    ROWS_BY_ROLE[_row["role"]].append(_row)


def expected_statuses(row: dict[str, str]) -> set[int]:
    return {int(code) for code in row["expected"].split("|")}


def crosses_tenants(row: dict[str, str]) -> bool:
    """True when the row's person belongs to one side and the object to the other."""
    if row["tenant"] == "none" or row["endpoint"] in PUBLIC_CATALOGUE:
        return False
    return (row["role"] in OWN_SIDE and row["tenant"] == "foreign") or (
        row["role"] in FOREIGN_SIDE and row["tenant"] == "own"
    )


def test_the_matrix_file_is_well_formed():
    assert set(ROWS_BY_ROLE) == set(ROLES)
    keys = [(r["endpoint"], r["path"], r["method"], r["role"], r["tenant"]) for r in ROWS]
    assert len(keys) == len(set(keys)), "duplicate rows"
    for row in ROWS:
        assert row["tenant"] in {"own", "foreign", "none"}, row
        assert row["method"] == "GET", row
        expected_statuses(row)  # parses
    # Each person has the same routes as every other, so no role was forgotten for a route.
    routes = {role: {(r["path"], r["tenant"]) for r in rows} for role, rows in ROWS_BY_ROLE.items()}
    assert all(paths == routes["requester"] for paths in routes.values())


def test_the_matrix_itself_allows_no_cross_tenant_access():
    """A guard against "fixing" a leak by editing the expected status to 200."""
    allowed = [
        row
        for row in ROWS
        if crosses_tenants(row) and expected_statuses(row) & set(range(200, 300))
    ]
    assert allowed == []


def _sample_path(path: str) -> str:
    return path.format_map(defaultdict(lambda: "1"))


def test_every_get_route_with_an_id_is_in_the_matrix(app):
    adapter = app.url_map.bind("localhost")
    covered = set()
    for row in ROWS:
        rule, _args = adapter.match(_sample_path(row["path"]), method="GET", return_rule=True)
        assert rule.endpoint == row["endpoint"], row
        covered.add(rule.rule)
    with_ids = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and any(isinstance(conv, IntegerConverter) for conv in rule._converters.values())
    }
    assert with_ids - covered - set(EXCLUDED_RULES) == set()


def _markers(db, agency) -> set[str]:  # type: ignore[no-untyped-def]
    """Order numbers, request numbers and the name of an agency: what its pages would show."""
    orders = db.scalars(select(Order).where(Order.agency_id == agency.id)).all()
    numbers = {order.number for order in orders if order.number}
    return numbers | {o.request_number for o in orders if o.request_number} | {agency.name}


def _is_list_page(row: dict[str, str]) -> bool:
    # Open data publishes contracts on purpose: every agency's orders are public there.
    return row["tenant"] == "none" and not row["path"].startswith("/open-data")


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(app, client, db, world, upload_dir, role):
    """Every row of one person (the world is built once): the status is the expected one, and
    for a person of one side, no page they open lists the other side's orders or agency."""
    matrix_world = build_matrix_world(db, world, upload_dir)
    db.commit()
    foreign_markers: set[str] = set()
    if role in OWN_SIDE | FOREIGN_SIDE:
        theirs = world.other_agency if role in OWN_SIDE else world.agency
        foreign_markers = _markers(db, theirs)
        assert len(foreign_markers) > 5
    api_client = app.test_client()  # no cookies: the API is reached by bearer token only
    api_client.test_session = db  # type: ignore[attr-defined]
    headers = {}
    if role != "anonymous":
        response = client.post(
            "/login", data={"email": world.users()[role].email, "password": PASSWORD}
        )
        assert response.status_code == 302
        headers = {"Authorization": f"Bearer {matrix_world.tokens[role]}"}
    wrong, leaks = [], []
    for row in ROWS_BY_ROLE[role]:
        url = row["path"].format(**matrix_world.ids[row["tenant"]])
        if url.startswith("/api/"):
            response = api_client.get(url, headers=headers)
        else:
            response = client.get(url)
        status = response.status_code
        body = response.get_data(as_text=True) if status == 200 and _is_list_page(row) else ""
        response.close()  # downloads are streamed from files
        if status not in expected_statuses(row):
            wrong.append(f"{url} ({row['tenant']}): {status}, expected {row['expected']}")
            if 200 <= status < 300:
                leaks.append(url)
        leaks += [f"{url} lists {marker}" for marker in foreign_markers if marker in body]
    assert leaks == [], f"leaks found: {len(leaks)}"
    assert wrong == []
    if foreign_markers:  # the content check can see: the person's own orders are listed
        own = world.agency if role in OWN_SIDE else world.other_agency
        orders_page = client.get("/orders").get_data(as_text=True)
        assert any(marker in orders_page for marker in _markers(db, own))

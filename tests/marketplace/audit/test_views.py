"""The auditor searches the trail, exports it and checks the chain; nobody else gets in."""

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.audit import chain
from marketplace.audit.models import AuditEvent
from marketplace.audit.services import record_event
from marketplace.ordering.services import JAKARTA


@pytest.fixture
def two_orders(db, world):  # type: ignore[no-untyped-def]
    """A paid order of the world's agency and a submitted one of the other agency."""
    paid = world.order_in(db, "paid")
    other_line = world.other_line
    from marketplace.ordering import services as ordering
    from tests.support import details_for

    ordering.add_to_cart(db, world.other_requester, world.product, 5)
    cart = ordering.cart_orders(db, world.other_requester)
    [other] = ordering.checkout(
        db, world.other_requester, [o.id for o in cart], details_for(other_line), world.rules
    )
    db.commit()
    return paid, other


def event_ids(html: str) -> set[int]:
    import re

    return {int(found) for found in re.findall(r'id="event-(\d+)"', html)}


def ids_where(db, *conditions) -> set[int]:  # type: ignore[no-untyped-def]
    return set(db.scalars(select(AuditEvent.id).where(*conditions)))


def test_the_auditor_sees_the_trail_and_the_chain_status(client, db, login, world, two_orders):
    login(world.auditor)
    response = client.get("/audit/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Audit trail" in html
    total = len(ids_where(db))
    assert f"{total} events sealed into the chain." in html
    assert 'href="/audit/"' in html  # the menu links here


def test_search_by_order_number_finds_its_events_and_what_it_caused(
    client, db, login, world, two_orders
):
    paid, other = two_orders
    login(world.auditor)

    html = client.get("/audit/", query_string={"order": paid.number}).get_data(as_text=True)

    shown = event_ids(html)
    own = ids_where(db, AuditEvent.object_type == "order", AuditEvent.object_id == paid.id)
    budget = ids_where(
        db,
        AuditEvent.object_type == "budget_line",
        AuditEvent.action.in_(["budget.commit", "budget.spend", "budget.release"]),
        AuditEvent.object_id == world.line.id,
    )
    payment = ids_where(db, AuditEvent.object_type == "payment")
    assert own and budget and payment
    assert shown == own | budget | payment
    assert not shown & ids_where(db, AuditEvent.object_id == other.id)
    # by id too
    by_id = client.get("/audit/", query_string={"order": str(paid.id)}).get_data(as_text=True)
    assert event_ids(by_id) == shown


def test_an_unknown_order_is_said_so(client, db, login, world, two_orders):
    login(world.auditor)
    html = client.get("/audit/", query_string={"order": "EO-1999-000001"}).get_data(as_text=True)
    assert "No order has the number or id EO-1999-000001." in html
    assert not event_ids(html)


def test_search_by_user_agency_action_and_date(client, db, login, world, two_orders):
    login(world.auditor)

    by_user = client.get("/audit/", query_string={"user": world.approver.email.upper()})
    assert event_ids(by_user.get_data(as_text=True)) == ids_where(
        db, AuditEvent.actor_id == world.approver.id
    )
    by_name = client.get("/audit/", query_string={"user": world.treasurer.name})
    assert event_ids(by_name.get_data(as_text=True)) == ids_where(
        db, AuditEvent.actor_id == world.treasurer.id
    )

    other_agency = client.get("/audit/", query_string={"agency": world.other_agency.id})
    expected = ids_where(db, AuditEvent.agency_id == world.other_agency.id)
    assert expected and event_ids(other_agency.get_data(as_text=True)) == expected

    approvals = client.get("/audit/", query_string={"action": "order.appr"})
    assert event_ids(approvals.get_data(as_text=True)) == ids_where(
        db, AuditEvent.action.like("order.appr%")
    )

    first = db.scalar(select(AuditEvent).order_by(AuditEvent.id))
    today = first.occurred_at.astimezone(JAKARTA).date()
    on_the_day = client.get("/audit/", query_string={"from": today, "to": today})
    assert len(event_ids(on_the_day.get_data(as_text=True))) == min(50, len(ids_where(db)))
    tomorrow = client.get("/audit/", query_string={"from": today + timedelta(days=1)})
    assert not event_ids(tomorrow.get_data(as_text=True))
    bad = client.get("/audit/", query_string={"from": "31-12-2026"}).get_data(as_text=True)
    assert "From is not a date (YYYY-MM-DD)." in bad


def test_pages_go_back_and_forth(client, db, login, world):
    for number in range(110):
        record_event(db, world.curator, "test.page", "order", number)
    db.commit()
    login(world.auditor)
    all_ids = sorted(ids_where(db), reverse=True)
    assert len(all_ids) > 100

    first = client.get("/audit/").get_data(as_text=True)
    assert sorted(event_ids(first), reverse=True) == all_ids[:50]
    second = client.get("/audit/", query_string={"before": all_ids[49]}).get_data(as_text=True)
    assert sorted(event_ids(second), reverse=True) == all_ids[50:100]
    back = client.get("/audit/", query_string={"after": all_ids[50]}).get_data(as_text=True)
    assert sorted(event_ids(back), reverse=True) == all_ids[:50]


def test_csv_export_reads_back_and_cannot_run_formulas(client, db, login, world, two_orders):
    paid, _other = two_orders
    world.approver.name = '=HYPERLINK("http://evil.example")'
    db.commit()
    login(world.auditor)

    response = client.get("/audit/export.csv", query_string={"order": paid.number})

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    html = client.get("/audit/", query_string={"order": paid.number}).get_data(as_text=True)
    assert [int(r["id"]) for r in rows] == sorted(event_ids(html))
    approval = next(r for r in rows if r["action"] == "order.approve")
    assert approval["actor_name"] == '\'=HYPERLINK("http://evil.example")'
    assert approval["actor_email"] == world.approver.email
    assert json.loads(approval["after"])["status"] == "approved"
    assert len(approval["hash"]) == 64


def test_jsonl_export_lets_anyone_recompute_the_chain(client, db, login, world, two_orders):
    login(world.auditor)

    response = client.get("/audit/export.jsonl")

    assert response.status_code == 200
    records = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [r["id"] for r in records] == sorted(ids_where(db))
    previous = chain.GENESIS_HASH
    for record in sorted(records, key=lambda r: r["chain_seq"]):
        from datetime import datetime

        record["occurred_at"] = datetime.fromisoformat(record["occurred_at"])
        assert record["prev_hash"] == previous
        assert chain.event_hash(previous, record, record["chain_seq"]) == record["hash"]
        previous = record["hash"]


def test_verify_now_reports_the_chain(client, db, login, world, two_orders, tamper):
    login(world.auditor)
    ok = client.get("/audit/verify").get_data(as_text=True)
    assert "The chain holds" in ok

    victim = db.scalar(select(AuditEvent).where(AuditEvent.action == "order.pay"))
    victim_id = victim.id
    tamper("UPDATE audit_events SET object_id = 0 WHERE id = :id", id=victim_id)
    broken = client.get("/audit/verify").get_data(as_text=True)
    assert "The chain is broken" in broken
    assert f"Event {victim_id}" in broken
    assert "hash mismatch" in broken


@pytest.mark.parametrize("path", ["/audit/", "/audit/verify", "/audit/export.csv"])
def test_others_are_refused(client, db, login, world, path):
    for person in (world.requester, world.curator, world.finance, world.vendor_owner):
        login(person)
        assert client.get(path).status_code == 403
    client.post("/logout")
    assert client.get(path).status_code == 302  # to the login page


def test_the_menu_shows_the_trail_only_to_auditors(client, db, login, world):
    login(world.requester)
    assert 'href="/audit/"' not in client.get("/").get_data(as_text=True)


def test_an_agency_role_given_audit_view_would_see_only_its_agency(
    client, db, login, world, two_orders, monkeypatch
):
    from marketplace.accounts.models import Role
    from marketplace.permissions import ROLE_PERMISSIONS

    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.APPROVER, ROLE_PERMISSIONS[Role.APPROVER] | {"audit:view"}
    )
    login(world.other_approver)

    html = client.get("/audit/").get_data(as_text=True)
    exported = client.get("/audit/export.jsonl").get_data(as_text=True).splitlines()

    own = ids_where(db, AuditEvent.agency_id == world.other_agency.id)
    assert own and event_ids(html) == own
    assert {json.loads(line)["id"] for line in exported} == own

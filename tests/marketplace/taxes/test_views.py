"""The curator's tax pages, the calculator, and the vendor's regional tax number."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select

from catalog.models import Vendor
from marketplace.audit.models import AuditEvent
from marketplace.taxes.defaults import install_default_tax_rules
from marketplace.taxes.models import TaxRule
from marketplace.web import today_in_jakarta
from tests.marketplace.accounts.test_views import NEW_VENDOR


@pytest.fixture
def rules(db):  # type: ignore[no-untyped-def]
    db.execute(delete(TaxRule))
    installed = install_default_tax_rules(db)
    db.commit()
    return installed


def rule_count(db) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(TaxRule))


def new_rule(**overrides) -> dict[str, object]:  # type: ignore[no-untyped-def]
    data: dict[str, object] = {
        "code": "PPH4",
        "name": "PPh Pasal 4 ayat (2) sewa tempat",
        "kind": "withheld",
        "rate": "10",
        "business_types": ["restaurant"],
        "vendor_has_npwp": "",
        "min_base_exclusive": "",
        "rounding": "down",
        "effective_from": "2026-01-01",
        "last_day": "",
        "legal_basis": "PP 34/2017",
    }
    data.update(overrides)
    return data


def audit_actions(db) -> list[str]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_the_curator_sees_the_rules_grouped_by_code(client, db, login, world, rules):
    login(world.curator)
    page = client.get("/admin/taxes")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("PBJT", "PPH23", "PPH22", "1.5%", "10%", "PMK 34/2017", "In force"):
        assert text in html
    assert "Caterer, Restaurant, registered for regional tax (NPWPD)" in html
    assert "without an NPWP, above Rp 2.000.000" in html
    assert 'href="/admin/taxes"' in client.get("/").get_data(as_text=True)  # in the menu
    with client.session_transaction() as session:
        session["lang"] = "id"
    assert "1,5%" in client.get("/admin/taxes").get_data(as_text=True)


def test_the_calculator_shows_the_breakdown(client, db, login, world, rules):
    login(world.curator)
    query = {
        "business_type": "caterer",
        "has_npwp": "yes",
        "registered": "yes",
        "gross": "1100000",
        "day": today_in_jakarta().isoformat(),
    }
    html = client.get("/admin/taxes", query_string=query).get_data(as_text=True)
    for figure in ("Rp 1.000.000", "Rp 100.000", "−Rp 20.000", "Rp 1.080.000"):
        assert figure in html
    bad = client.get("/admin/taxes", query_string=dict(query, gross="-5"))
    assert bad.status_code == 400
    assert "Net payable" not in bad.get_data(as_text=True)


def test_a_bad_rate_is_shown_next_to_the_field_and_nothing_is_saved(
    client, db, login, world, rules
):
    login(world.curator)
    for rate in ("abc", "1,555", "101", "-2"):
        response = client.post("/admin/taxes/new", data=new_rule(rate=rate))
        assert response.status_code == 400, rate
        html = response.get_data(as_text=True)
        assert 'id="rate-error"' in html
    assert rule_count(db) == 5
    assert "tax_rule.create" not in audit_actions(db)


def test_the_curator_adds_a_rule(client, db, login, world, rules):
    login(world.curator)
    response = client.post("/admin/taxes/new", data=new_rule(rate="0,5"))
    assert response.status_code == 302
    rule = db.scalar(select(TaxRule).where(TaxRule.code == "PPH4"))
    assert (rule.rate_bp, rule.business_types, rule.vendor_has_npwp) == (50, ["restaurant"], None)
    assert rule.effective_from == date(2026, 1, 1)
    assert rule.effective_to is None
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "tax_rule.create"))
    assert event.actor_id == world.curator.id
    assert event.object_id == rule.id
    assert "0.5%" in client.get("/admin/taxes").get_data(as_text=True)


def test_an_overlapping_rule_is_refused_on_the_form(client, db, login, world, rules):
    login(world.curator)
    data = new_rule(code="PPH23", business_types=["caterer"], vendor_has_npwp="yes")
    response = client.post("/admin/taxes/new", data=data)
    assert response.status_code == 400
    assert "Another PPH23 rule" in response.get_data(as_text=True)
    assert rule_count(db) == 5


def test_the_curator_changes_a_rule_that_has_not_applied_yet(client, db, login, world, rules):
    login(world.curator)
    future = (today_in_jakarta() + timedelta(days=60)).isoformat()
    assert client.post("/admin/taxes/new", data=new_rule(effective_from=future)).status_code == 302
    rule = db.scalar(select(TaxRule).where(TaxRule.code == "PPH4"))
    form = client.get(f"/admin/taxes/{rule.id}/edit").get_data(as_text=True)
    assert 'value="10"' in form
    data = new_rule(rate="1,5", min_base_exclusive="2500000", effective_from=future)
    assert client.post(f"/admin/taxes/{rule.id}/edit", data=data).status_code == 302
    db.refresh(rule)
    assert (rule.rate_bp, rule.min_base_exclusive) == (150, 2_500_000)
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "tax_rule.update"))
    assert (event.before["rate_bp"], event.after["rate_bp"]) == (1000, 150)


def test_the_terms_of_a_rule_that_has_applied_cannot_change(client, db, login, world, rules):
    pph22 = next(r for r in rules if r.code == "PPH22" and r.vendor_has_npwp)
    login(world.curator)
    data = new_rule(
        code="PPH22",
        name=pph22.name,
        rate="1,5",
        business_types=["shop", "home_industry"],
        vendor_has_npwp="yes",
        min_base_exclusive="2500000",
        effective_from="2017-03-01",
        legal_basis=pph22.legal_basis,
    )
    response = client.post(f"/admin/taxes/{pph22.id}/edit", data=data)
    assert response.status_code == 400
    assert "already applied to sales" in response.get_data(as_text=True)
    db.refresh(pph22)
    assert pph22.min_base_exclusive == 2_000_000
    # Its name and legal basis may still be put right.
    data.update(min_base_exclusive="2000000", legal_basis="UU 36/2008 Pasal 22; PMK 34/2017")
    assert client.post(f"/admin/taxes/{pph22.id}/edit", data=data).status_code == 302
    db.refresh(pph22)
    assert pph22.legal_basis == "UU 36/2008 Pasal 22; PMK 34/2017"


def test_the_curator_ends_a_rule(client, db, login, world, rules):
    pbjt = next(r for r in rules if r.code == "PBJT")
    login(world.curator)
    assert client.get(f"/admin/taxes/{pbjt.id}/end").status_code == 200
    too_early = client.post(f"/admin/taxes/{pbjt.id}/end", data={"last_day": "2023-12-31"})
    assert too_early.status_code == 400
    assert 'id="last_day-error"' in too_early.get_data(as_text=True)
    last_day = today_in_jakarta() - timedelta(days=1)
    response = client.post(f"/admin/taxes/{pbjt.id}/end", data={"last_day": last_day.isoformat()})
    assert response.status_code == 302
    db.refresh(pbjt)
    assert pbjt.effective_to == today_in_jakarta()
    assert audit_actions(db).count("tax_rule.end") == 1
    assert "Ended" in client.get("/admin/taxes").get_data(as_text=True)


def test_a_missing_rule_is_404(client, login, world, rules):
    login(world.curator)
    assert client.get("/admin/taxes/999999/edit").status_code == 404


@pytest.mark.parametrize("person", ["treasurer", "finance", "auditor", "vendor_owner", "requester"])
def test_only_curators_manage_taxes(client, db, login, world, rules, person):
    login(getattr(world, person))
    assert client.get("/admin/taxes").status_code == 403
    assert client.post("/admin/taxes/new", data=new_rule()).status_code == 403
    pbjt = rules[0]
    assert (
        client.post(f"/admin/taxes/{pbjt.id}/end", data={"last_day": "2026-01-31"}).status_code
        == 403
    )
    db.refresh(pbjt)
    assert pbjt.effective_to is None
    assert rule_count(db) == 5
    assert 'href="/admin/taxes"' not in client.get("/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_log_in(client, rules):
    assert client.get("/admin/taxes").status_code == 302


# The vendor's regional tax number ----------------------------------------------------


def test_registration_stores_the_regional_tax_number(client, db):
    data = dict(NEW_VENDOR, regional_tax_number=" p.2.0001234.05.001 ")
    assert client.post("/register", data=data).status_code == 302
    vendor = db.scalar(select(Vendor).where(Vendor.trading_name == "Dapur Siti"))
    assert vendor.regional_tax_number == "P.2.0001234.05.001"


def test_registration_without_a_regional_tax_number_stores_none(client, db):
    assert client.post("/register", data=NEW_VENDOR).status_code == 302
    vendor = db.scalar(select(Vendor).where(Vendor.trading_name == "Dapur Siti"))
    assert vendor.regional_tax_number is None


def test_registration_refuses_an_odd_regional_tax_number(client, db):
    response = client.post("/register", data=dict(NEW_VENDOR, regional_tax_number="<b>1</b>"))
    assert response.status_code == 400
    assert 'id="regional_tax_number-error"' in response.get_data(as_text=True)
    assert db.scalar(select(Vendor).where(Vendor.trading_name == "Dapur Siti")) is None


def test_the_vendor_updates_its_regional_tax_number(client, db, login, world):
    login(world.vendor_owner)
    assert "Tax registration" in client.get("/vendor/").get_data(as_text=True)
    assert client.get("/vendor/tax").status_code == 200
    bad = client.post("/vendor/tax", data={"regional_tax_number": "x" * 41})
    assert bad.status_code == 400
    response = client.post("/vendor/tax", data={"regional_tax_number": "NOPD 31.71.050-0001"})
    assert response.status_code == 302
    db.refresh(world.vendor)
    assert world.vendor.regional_tax_number == "NOPD 31.71.050-0001"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "vendor.tax_registration"))
    assert event.vendor_id == world.vendor.id
    assert event.after == {"regional_tax_number": "NOPD 31.71.050-0001"}
    # clearing it: no longer registered for PBJT
    assert client.post("/vendor/tax", data={"regional_tax_number": ""}).status_code == 302
    db.refresh(world.vendor)
    assert world.vendor.regional_tax_number is None


def test_the_curator_sees_vendors_tax_numbers(client, db, login, world):
    world.vendor.regional_tax_number = "P.2.0001234.05.001"
    db.commit()
    login(world.curator)
    assert "P.2.0001234.05.001" in client.get("/admin/vendors").get_data(as_text=True)

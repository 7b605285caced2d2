"""The rule table in the database: defaults, rules in force, and the curator's audited edits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from catalog.models import BusinessType
from marketplace.audit.models import AuditEvent
from marketplace.db import make_engine
from marketplace.errors import Conflict, DomainError, PermissionDenied
from marketplace.migrate import upgrade
from marketplace.taxes import services
from marketplace.taxes.defaults import DEFAULT_TAX_RULES, install_default_tax_rules
from marketplace.taxes.models import Rounding, TaxKind, TaxRule

TODAY = date(2026, 6, 1)


@pytest.fixture
def rules(db):  # type: ignore[no-untyped-def]
    """Exactly the default rules (the first test of a run also sees the migration's copy)."""
    db.execute(delete(TaxRule))
    return install_default_tax_rules(db)


def rule_count(db) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(TaxRule))


def pph23(**overrides) -> services.TaxRuleData:  # type: ignore[no-untyped-def]
    values = dict(
        code="pph23",
        name="PPh Pasal 23 jasa katering (tarif baru)",
        kind=TaxKind.WITHHELD,
        rate_bp=250,
        effective_from=TODAY,
        business_types=("caterer",),
        vendor_has_npwp=True,
        rounding=Rounding.DOWN,
        legal_basis="PMK 999/2026",
    )
    values.update(overrides)
    return services.TaxRuleData(**values)


def events(db, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_defaults_are_installed_once(db, rules):
    assert len(rules) == 5
    assert install_default_tax_rules(db) == []
    assert rule_count(db) == 5


def test_defaults_are_what_the_migration_seeds(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    upgrade(engine)
    with Session(engine) as session:
        seeded = [
            {key: getattr(rule, key) for key in DEFAULT_TAX_RULES[0]}
            for rule in session.scalars(select(TaxRule).order_by(TaxRule.id))
        ]
    engine.dispose()
    assert seeded == list(DEFAULT_TAX_RULES)


def test_compute_taxes_uses_the_rules_in_force(db, world, rules):
    world.vendor.npwp = "012345678901234"
    world.vendor.regional_tax_number = "P.2.0001234.05.001"
    db.flush()
    result = services.compute_taxes(db, world.vendor, 1_100_000, TODAY)
    assert (result.base, result.charged_total, result.withheld_total) == (
        1_000_000,
        100_000,
        20_000,
    )
    # before PBJT replaced the old restaurant tax in Jakarta (5 January 2024), only PPh 23
    earlier = services.compute_taxes(db, world.vendor, 1_100_000, date(2024, 1, 4))
    assert earlier.charged == ()
    assert earlier.withheld_total == 22_000


def test_rules_in_force_on_a_day(db, rules):
    assert len(services.rules_in_force(db, TODAY)) == 5
    assert {r.code for r in services.rules_in_force(db, date(2010, 1, 1))} == {"PPH23"}


def test_curator_adds_a_rule_with_an_audit_event(db, world, rules):
    old = next(r for r in rules if r.code == "PPH23" and r.vendor_has_npwp)
    services.end_rule(db, world.curator, old, TODAY - timedelta(days=1))
    new = services.create_rule(db, world.curator, pph23())
    assert (new.code, new.rate_bp, new.effective_to, new.updated_by_id) == (
        "PPH23",
        250,
        None,
        world.curator.id,
    )
    assert old.effective_to == TODAY
    [created] = events(db, "tax_rule.create")
    assert created.actor_id == world.curator.id
    assert created.object_id == new.id
    assert created.after["rate_bp"] == 250
    [ended] = events(db, "tax_rule.end")
    assert ended.before["effective_to"] is None
    assert ended.after["effective_to"] == TODAY.isoformat()
    caterer = services.VendorTaxProfile(BusinessType.CATERER, npwp="012345678901234")
    assert services.compute_taxes(db, caterer, 1_000_000, TODAY).withheld_total == 25_000
    yesterday = TODAY - timedelta(days=1)
    assert services.compute_taxes(db, caterer, 1_000_000, yesterday).withheld_total == 20_000


def test_an_overlapping_rule_is_refused(db, world, rules):
    before = rule_count(db)
    with pytest.raises(Conflict, match="PPH23") as error:
        services.create_rule(db, world.curator, pph23())
    assert error.value.field == "effective_from"
    # "every business type" overlaps with caterers as well
    with pytest.raises(Conflict):
        services.create_rule(db, world.curator, pph23(business_types=(), vendor_has_npwp=None))
    assert rule_count(db) == before
    assert events(db, "tax_rule.create") == []


def test_rules_for_separate_vendors_or_periods_may_share_a_code(db, world, rules):
    # PPh 22 does not reach caterers; the rule below is for caterers with an NPWP only
    services.create_rule(db, world.curator, pph23(code="PPH22", rate_bp=150))
    services.create_rule(
        db,
        world.curator,
        pph23(effective_from=date(2000, 1, 1), last_day=date(2008, 12, 31), name="PPh 23 lama"),
    )
    assert rule_count(db) == 7


def test_extending_an_ended_rule_into_its_successor_is_refused(db, world, rules):
    old = next(r for r in rules if r.code == "PPH23" and r.vendor_has_npwp)
    services.end_rule(db, world.curator, old, TODAY - timedelta(days=1))
    services.create_rule(db, world.curator, pph23())
    with pytest.raises(Conflict):
        services.end_rule(db, world.curator, old, TODAY + timedelta(days=30))
    with pytest.raises(DomainError) as error:
        services.end_rule(db, world.curator, old, date(2008, 12, 31))
    assert error.value.field == "last_day"


def test_curator_changes_a_rule_before_it_applies(db, world, rules):
    pbjt = next(r for r in rules if r.code == "PBJT")
    data = services.TaxRuleData(
        code="PBJT",
        name="PBJT makanan dan minuman",
        kind=TaxKind.CHARGED,
        rate_bp=1000,
        effective_from=pbjt.effective_from,
        business_types=("caterer", "restaurant", "home_industry"),
        requires_regional_registration=True,
        rounding=Rounding.HALF_UP,
        legal_basis=pbjt.legal_basis,
    )
    # The day before it first applied, its terms could still change.
    before_start = pbjt.effective_from - timedelta(days=1)
    services.update_rule(db, world.curator, pbjt, data, today=before_start)
    assert pbjt.business_types == ["caterer", "restaurant", "home_industry"]
    [updated] = events(db, "tax_rule.update")
    assert updated.before["business_types"] == ["caterer", "restaurant"]
    assert updated.after["business_types"] == ["caterer", "restaurant", "home_industry"]


def test_a_rule_that_has_applied_keeps_its_terms(db, world, rules):
    pbjt = next(r for r in rules if r.code == "PBJT")
    base = dict(
        code="PBJT",
        name="PBJT atas makanan dan/atau minuman",
        kind=TaxKind.CHARGED,
        rate_bp=1000,
        effective_from=pbjt.effective_from,
        business_types=("caterer", "restaurant"),
        requires_regional_registration=True,
        rounding=Rounding.HALF_UP,
        legal_basis=pbjt.legal_basis,
    )
    for change in (
        {"rate_bp": 1100},
        {"business_types": ("caterer",)},
        {"rounding": Rounding.DOWN},
    ):
        with pytest.raises(DomainError, match="already applied"):
            services.update_rule(
                db, world.curator, pbjt, services.TaxRuleData(**{**base, **change}), today=TODAY
            )
    with pytest.raises(DomainError, match="from today on"):
        services.update_rule(
            db,
            world.curator,
            pbjt,
            services.TaxRuleData(**base, last_day=TODAY - timedelta(days=10)),
            today=TODAY,
        )
    services.update_rule(db, world.curator, pbjt, services.TaxRuleData(**base), today=TODAY)
    assert pbjt.name == "PBJT atas makanan dan/atau minuman" and pbjt.rate_bp == 1000


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "P"}, "code"),
        ({"code": "PPH 23"}, "code"),
        ({"name": "  "}, "name"),
        ({"rate_bp": 10_001}, "rate"),
        ({"rate_bp": -1}, "rate"),
        ({"business_types": ("bakery",)}, "business_types"),
        ({"min_base_exclusive": -5}, "min_base_exclusive"),
        ({"last_day": TODAY - timedelta(days=1)}, "last_day"),
    ],
)
def test_invalid_rules_are_refused_field_by_field(db, world, overrides, field):
    db.execute(delete(TaxRule))
    with pytest.raises(DomainError) as error:
        services.create_rule(db, world.curator, pph23(**overrides))
    assert error.value.field == field
    assert rule_count(db) == 0


def test_only_a_curator_changes_the_rules(db, world, rules):
    for person in (world.treasurer, world.finance, world.auditor, world.vendor_owner):
        with pytest.raises(PermissionDenied):
            services.create_rule(db, person, pph23(code="PPH4"))
        with pytest.raises(PermissionDenied):
            services.end_rule(db, person, rules[0], TODAY)
    assert rules[0].effective_to is None


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("", None),
        ("   ", None),
        (None, None),
        (" p.2.0001234.05.001 ", "P.2.0001234.05.001"),
        ("NOPD 31.71.050.001-0001", "NOPD 31.71.050.001-0001"),
        ("12/345/2024", "12/345/2024"),
    ],
)
def test_regional_tax_numbers_are_tidied(typed, stored):
    assert services.normalise_regional_tax_number(typed) == stored


@pytest.mark.parametrize("typed", ["<script>", "-123", "1" * 41, "NPWPD: 12", "ÿ123"])
def test_odd_regional_tax_numbers_are_refused(typed):
    with pytest.raises(DomainError) as error:
        services.normalise_regional_tax_number(typed)
    assert error.value.field == "regional_tax_number"

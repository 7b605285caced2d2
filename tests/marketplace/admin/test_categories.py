"""The curator manages the category tree."""

from sqlalchemy import select

from catalog.models import Category


def form(**overrides):
    data = {
        "name_id": "Nasi Box Premium",
        "name_en": "Premium rice box",
        "slug": "nasi-box-premium",
        "parent_id": 0,
        "position": 1,
    }
    data.update(overrides)
    return data


def test_curator_adds_a_subcategory(client, db, login, world):
    parent = world.product.category
    db.commit()
    login(world.curator)
    response = client.post("/admin/categories", data=form(parent_id=parent.id))
    assert response.status_code == 302
    child = db.scalar(select(Category).where(Category.slug == "nasi-box-premium"))
    assert child.parent_id == parent.id
    page = client.get("/admin/categories").get_data(as_text=True)
    assert "Nasi Box Premium" in page


def test_bad_slugs_duplicates_and_loops_are_refused(client, db, login, world):
    parent = world.product.category
    db.commit()
    login(world.curator)
    assert client.post("/admin/categories", data=form(slug="Nasi Box!")).status_code == 400
    assert client.post("/admin/categories", data=form(slug=parent.slug)).status_code == 400
    client.post("/admin/categories", data=form(parent_id=parent.id))
    child = db.scalar(select(Category).where(Category.slug == "nasi-box-premium"))
    looped = client.post(
        f"/admin/categories/{parent.id}",
        data=form(slug=parent.slug, name_id=parent.name_id, parent_id=child.id),
    )
    assert looped.status_code == 400
    db.refresh(parent)
    assert parent.parent_id is None


def test_only_curators_manage_categories(client, db, login, world):
    db.commit()
    login(world.vendor_owner)
    assert client.post("/admin/categories", data=form()).status_code == 403
    assert db.scalar(select(Category).where(Category.slug == "nasi-box-premium")) is None


def test_curator_sets_agency_thresholds_and_unit_costs(client, db, login, world):
    from marketplace.ordering.caps import PaxPriceCap

    db.commit()
    login(world.curator)
    response = client.post(
        f"/admin/agencies/{world.agency.id}",
        data={
            "code": world.agency.code,
            "name": world.agency.name,
            "address": "",
            "city": "",
            "second_approval_threshold": "5000000",
            "split_purchase_threshold": "",
        },
    )
    assert response.status_code == 302
    db.refresh(world.agency)
    assert world.agency.second_approval_threshold == 5_000_000
    assert world.agency.split_purchase_threshold is None
    response = client.post(
        "/admin/unit-costs",
        data={"category_id": world.product.category_id, "agency_id": 0, "max_per_pax": "45000"},
    )
    assert response.status_code == 302
    assert db.scalar(select(PaxPriceCap.max_per_pax)) == 45_000
    client.post(
        "/admin/unit-costs",
        data={"category_id": world.product.category_id, "agency_id": 0, "max_per_pax": ""},
    )
    assert db.scalar(select(PaxPriceCap)) is None
    bad = client.post(
        f"/admin/agencies/{world.agency.id}", data={"code": world.other_agency.code, "name": "X"}
    )
    assert bad.status_code == 400

"""The budget holder manages lines: allocations by ledger rows with reasons, freezing, closing."""

from sqlalchemy import select

from marketplace.budgets.models import BudgetEntry, BudgetLine, EntryKind


def test_budget_holder_creates_a_line(client, db, login, world):
    db.commit()
    login(world.budget_holder)
    response = client.post(
        "/budgets/new",
        data={
            "agency_id": world.agency.id,
            "account_code": "5.1.02.01.01.0053",
            "name": "Belanja Makanan dan Minuman Jamuan Tamu",
            "activity": "",
            "fiscal_year": 2026,
            "allocation": 75_000_000,
        },
    )
    assert response.status_code == 302
    line = db.scalar(select(BudgetLine).where(BudgetLine.account_code == "5.1.02.01.01.0053"))
    assert line.allocation == 75_000_000
    assert (
        db.scalar(select(BudgetEntry.kind).where(BudgetEntry.budget_line_id == line.id))
        is EntryKind.ALLOCATE
    )


def test_bad_account_codes_and_other_agencies_are_refused(client, db, login, world):
    db.commit()
    login(world.budget_holder)
    bad = client.post(
        "/budgets/new",
        data={
            "agency_id": world.agency.id,
            "account_code": "5102",
            "name": "X",
            "fiscal_year": 2026,
            "allocation": 1,
        },
    )
    assert bad.status_code == 400
    foreign = client.post(
        "/budgets/new",
        data={
            "agency_id": world.other_agency.id,
            "account_code": "5.1.02.01.01.0053",
            "name": "X",
            "fiscal_year": 2026,
            "allocation": 1,
        },
    )
    assert foreign.status_code == 400  # not a choice this person has
    assert db.scalar(select(BudgetLine).where(BudgetLine.name == "X")) is None


def test_allocation_changes_are_ledger_rows_with_a_reason(client, db, login, world):
    world.order_in(db, "submitted")  # Rp 350.000 committed
    db.commit()
    login(world.budget_holder)
    assert (
        client.post(
            f"/budgets/{world.line.id}/allocation", data={"allocation": 6_000_000, "reason": ""}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/budgets/{world.line.id}/allocation",
            data={"allocation": 6_000_000, "reason": "DPPA No. 12/2026"},
        ).status_code
        == 302
    )
    db.refresh(world.line)
    assert world.line.allocation == 6_000_000
    too_low = client.post(
        f"/budgets/{world.line.id}/allocation", data={"allocation": 300_000, "reason": "Refocusing"}
    )
    assert too_low.status_code == 400
    assert (
        client.post(
            f"/budgets/{world.line.id}/allocation",
            data={"allocation": 350_000, "reason": "Refocusing"},
        ).status_code
        == 302
    )
    db.refresh(world.line)
    assert (world.line.allocation, world.line.available) == (350_000, 0)
    kinds = list(
        db.scalars(
            select(BudgetEntry.kind)
            .where(BudgetEntry.budget_line_id == world.line.id)
            .order_by(BudgetEntry.id)
        )
    )
    assert kinds == [EntryKind.ALLOCATE, EntryKind.COMMIT, EntryKind.ALLOCATE, EntryKind.REDUCE]


def test_only_the_budget_holder_changes_allocations(client, db, login, world):
    db.commit()
    for who in (world.requester, world.approver, world.treasurer, world.finance):
        login(who)
        response = client.post(
            f"/budgets/{world.line.id}/allocation", data={"allocation": 9_000_000, "reason": "x"}
        )
        assert response.status_code == 403
    db.refresh(world.line)
    assert world.line.allocation == 5_000_000


def test_a_frozen_line_takes_no_orders(client, db, login, world):
    import pytest

    from marketplace.errors import DomainError
    from marketplace.ordering import services as ordering
    from tests.support import details_for

    db.commit()
    login(world.budget_holder)
    client.post(f"/budgets/{world.line.id}/freeze", data={"frozen": "1"})
    db.refresh(world.line)
    assert world.line.frozen
    ordering.add_to_cart(db, world.requester, world.product, 1)
    ids = [o.id for o in ordering.cart_orders(db, world.requester)]
    with pytest.raises(DomainError, match="frozen"):
        ordering.checkout(db, world.requester, ids, details_for(world.line), world.rules)


def test_closing_a_year_waits_for_open_commitments(client, db, login, world):
    order = world.order_in(db, "submitted")
    db.commit()
    login(world.budget_holder)
    data = {"agency_id": world.agency.id, "fiscal_year": world.line.fiscal_year}
    response = client.post("/budgets/close-year", data=data)
    assert response.status_code == 400
    assert order.number is not None
    login(world.requester)
    client.post(f"/orders/{order.id}/cancel", data={"reason": "Batal"})
    login(world.budget_holder)
    assert client.post("/budgets/close-year", data=data).status_code == 302
    db.refresh(world.line)
    assert world.line.closed_at is not None
    response = client.post(
        f"/budgets/{world.line.id}/allocation", data={"allocation": 1, "reason": "late"}
    )
    assert response.status_code == 409

"""The approvals queue shows 25 orders a page, oldest first, and says how many wait."""

from marketplace.ordering.views import APPROVALS_PAGE_SIZE


def test_a_long_queue_is_paged_oldest_first(client, db, login, world):
    orders = [world.order_in(db, "submitted", quantity=1) for _ in range(APPROVALS_PAGE_SIZE + 3)]
    db.commit()
    login(world.approver)
    first = client.get("/approvals").get_data(as_text=True)
    assert f"{len(orders)} orders wait for you" in first
    assert orders[0].number in first and orders[APPROVALS_PAGE_SIZE - 1].number in first
    assert orders[APPROVALS_PAGE_SIZE].number not in first
    assert "Page 1 of 2" in first and "page=2" in first
    second = client.get("/approvals?page=2").get_data(as_text=True)
    assert orders[APPROVALS_PAGE_SIZE].number in second and orders[-1].number in second
    assert orders[0].number not in second
    assert client.get("/approvals?page=99").status_code == 200  # the last page, not an error


def test_a_short_queue_has_no_page_links(client, db, login, world):
    world.order_in(db, "submitted", quantity=1)
    db.commit()
    login(world.approver)
    page = client.get("/approvals").get_data(as_text=True)
    assert "1 order waits for you" in page
    assert "Page 1 of" not in page

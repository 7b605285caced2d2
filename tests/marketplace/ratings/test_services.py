"""Rating a vendor: only the requester, only after receipt, once per order, counted exactly."""

import threading

import pytest
from sqlalchemy import func, select

from marketplace.audit.models import AuditEvent
from marketplace.errors import Conflict, DomainError, IllegalTransition, PermissionDenied
from marketplace.ratings import services
from marketplace.ratings.models import VendorRating
from marketplace.ratings.services import (
    rate_vendor,
    rating_distribution,
    rating_for_order,
    recent_ratings,
)


def rating_count(db):
    return db.scalar(select(func.count()).select_from(VendorRating))


def test_the_requester_rates_a_received_order(db, world, received):
    order = received()

    rating = rate_vendor(db, world.requester, order, 4, "  Tepat waktu, nasi masih hangat.  ")

    assert rating_for_order(db, order.id) is rating
    assert (rating.stars, rating.comment) == (4, "Tepat waktu, nasi masih hangat.")
    assert (rating.vendor_id, rating.agency_id, rating.rated_by_id) == (
        world.vendor.id,
        world.agency.id,
        world.requester.id,
    )
    assert (world.vendor.rating_count, world.vendor.rating_stars_total) == (1, 4)
    assert world.vendor.rating_tenths == 40
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "vendor.rate"))
    assert event.actor_id == world.requester.id
    assert (event.object_type, event.object_id) == ("vendor_rating", rating.id)
    assert event.after["stars"] == 4
    assert (event.agency_id, event.vendor_id) == (world.agency.id, world.vendor.id)


def test_paid_and_reconciled_orders_can_be_rated_too(db, world):
    for status in ("paid", "reconciled"):
        order = world.order_in(db, status)
        rate_vendor(db, world.requester, order, 5, "")
    assert world.vendor.rating_count == 2


@pytest.mark.parametrize("status", ["submitted", "approved", "accepted", "delivered", "disputed"])
def test_no_rating_before_receipt(db, world, status):
    order = world.order_in(db, status)
    with pytest.raises(IllegalTransition):
        rate_vendor(db, world.requester, order, 5, "")
    assert rating_count(db) == 0
    assert world.vendor.rating_count == 0


@pytest.mark.parametrize(
    "who", ["approver", "budget_holder", "other_requester", "vendor_owner", "curator"]
)
def test_only_the_requester_rates(db, world, received, who):
    order = received()
    with pytest.raises(PermissionDenied):
        rate_vendor(db, getattr(world, who), order, 5, "")
    assert rating_count(db) == 0


def test_an_order_is_rated_once(db, world, received):
    order = received()
    rate_vendor(db, world.requester, order, 5, "")
    with pytest.raises(Conflict):
        rate_vendor(db, world.requester, order, 1, "")
    assert rating_count(db) == 1
    assert (world.vendor.rating_count, world.vendor.rating_stars_total) == (1, 5)


def test_a_rating_saved_meanwhile_is_a_conflict_and_the_rest_stands(
    db, world, received, monkeypatch
):
    first, second = received(), received()
    rate_vendor(db, world.requester, first, 5, "")
    # Another request saved a rating of `second` after this one looked: only the unique
    # constraint notices.
    rate_vendor(db, world.requester, second, 3, "")
    monkeypatch.setattr(services, "rating_for_order", lambda session, order_id: None)

    with pytest.raises(Conflict):
        rate_vendor(db, world.requester, second, 1, "")

    # Only the savepoint was undone: the transaction goes on with both earlier ratings.
    db.commit()
    assert rating_count(db) == 2
    assert (world.vendor.rating_count, world.vendor.rating_stars_total) == (2, 8)


@pytest.mark.parametrize("stars", [0, 6, -1, None, "5", 4.5, True])
def test_stars_from_1_to_5(db, world, received, stars):
    order = received()
    with pytest.raises(DomainError) as error:
        rate_vendor(db, world.requester, order, stars, "")
    assert error.value.field == "stars"
    assert rating_count(db) == 0


def test_a_comment_of_at_most_1000_characters(db, world, received):
    order = received()
    with pytest.raises(DomainError) as error:
        rate_vendor(db, world.requester, order, 4, "x" * 1001)
    assert error.value.field == "comment"
    assert rate_vendor(db, world.requester, order, 4, "x" * 1000).comment == "x" * 1000


def test_distribution_and_recent_ratings(db, world, received):
    for stars, comment in [(5, "Enak"), (4, ""), (5, "Rapi"), (2, "Terlambat satu jam")]:
        rate_vendor(db, world.requester, received(), stars, comment)
    rate_vendor(db, world.requester, received(other_vendor=True), 1, "Another vendor")

    assert rating_distribution(db, world.vendor.id) == {5: 2, 4: 1, 3: 0, 2: 1, 1: 0}
    assert rating_distribution(db, world.other_vendor.id) == {5: 0, 4: 0, 3: 0, 2: 0, 1: 1}
    latest = recent_ratings(db, world.vendor.id, 3)
    assert [r.stars for r in latest] == [2, 5, 4]
    assert {r.agency_name for r in latest} == {world.agency.name}
    commented = recent_ratings(db, world.vendor.id, 10, with_comment_only=True)
    assert [r.comment for r in commented] == ["Terlambat satu jam", "Rapi", "Enak"]
    # 16 stars from 4 ratings
    assert world.vendor.rating_tenths == 40


def test_concurrent_ratings_of_one_vendor_all_count(app, db, world, received):
    """Each thread rates its own order in its own transaction: no rating is lost."""
    threads_count = 6
    orders = [received() for _ in range(threads_count)]
    db.commit()
    sessionmaker = app.extensions["db_sessionmaker"]
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def rate(order_id: int, stars: int) -> None:
        session = sessionmaker()
        try:
            requester = session.get(type(world.requester), world.requester.id)
            order = session.get(type(orders[0]), order_id)
            order.vendor  # noqa: B018  (loaded before the race, as a view would)
            session.commit()
            barrier.wait(timeout=60)
            rate_vendor(session, requester, order, stars, "")
            session.commit()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            session.close()

    threads = [
        threading.Thread(target=rate, args=(order.id, 1 + i % 5)) for i, order in enumerate(orders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    db.refresh(world.vendor)
    assert world.vendor.rating_count == threads_count
    assert world.vendor.rating_stars_total == sum(1 + i % 5 for i in range(threads_count))


def test_two_requests_rating_one_order_save_one_rating(app, db, world, received):
    order = received()
    db.commit()
    sessionmaker = app.extensions["db_sessionmaker"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def rate(stars: int) -> None:
        session = sessionmaker()
        try:
            requester = session.get(type(world.requester), world.requester.id)
            mine = session.get(type(order), order.id)
            session.commit()
            barrier.wait(timeout=60)
            rate_vendor(session, requester, mine, stars, "")
            session.commit()
            outcome = "saved"
        except Conflict:
            session.rollback()
            outcome = "conflict"
        except BaseException as error:  # reported by the assertion below
            outcome = repr(error)
        finally:
            session.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=rate, args=(stars,)) for stars in (5, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcomes) == ["conflict", "saved"]
    assert rating_count(db) == 1
    db.refresh(world.vendor)
    assert world.vendor.rating_count == 1
    assert world.vendor.rating_stars_total == db.scalar(select(VendorRating.stars))

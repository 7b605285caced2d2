"""The rating page, the rating shown on an order, and the vendor's page with its ratings."""

import pytest
from flask import render_template
from flask import session as browser_session
from flask_login import login_user
from sqlalchemy import func, select

from catalog.models import ProductStatus, VendorStatus
from marketplace.accounts.models import User
from marketplace.db import get_session
from marketplace.ordering.models import Order
from marketplace.ratings.models import VendorRating
from marketplace.ratings.services import rate_vendor
from tests.support import ProductFactory


def rating_count(db):
    return db.scalar(select(func.count()).select_from(VendorRating))


# Rating an order ---------------------------------------------------------------------------


def test_the_requester_rates_through_the_page(client, db, login, world, received):
    order = received()
    login(world.requester)

    page = client.get(f"/orders/{order.id}/rating")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<legend>How was the vendor?</legend>" in html
    assert html.count('type="radio"') == 5
    for label in ("5 – excellent", "4 – good", "3 – fair", "2 – poor", "1 – very poor"):
        assert label in html

    response = client.post(
        f"/orders/{order.id}/rating", data={"stars": "4", "comment": "Tepat waktu."}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/orders/{order.id}")
    rating = db.scalar(select(VendorRating))
    assert (rating.order_id, rating.stars, rating.comment) == (order.id, 4, "Tepat waktu.")
    db.refresh(world.vendor)
    assert (world.vendor.rating_count, world.vendor.rating_stars_total) == (1, 4)
    assert "Your rating of" in client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("stars", ["0", "6", "x", "", None])
def test_bad_stars_show_an_error_and_save_nothing(client, db, login, world, received, stars):
    order = received()
    login(world.requester)
    data = {"comment": "Enak"} if stars is None else {"stars": stars, "comment": "Enak"}

    response = client.post(f"/orders/{order.id}/rating", data=data)

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Choose from 1 to 5 stars." in html
    assert 'aria-describedby="stars-error"' in html
    assert "Enak</textarea>" in html  # what was typed is kept
    assert rating_count(db) == 0
    db.refresh(world.vendor)
    assert world.vendor.rating_count == 0


def test_a_too_long_comment_is_refused(client, db, login, world, received):
    order = received()
    login(world.requester)
    response = client.post(f"/orders/{order.id}/rating", data={"stars": "5", "comment": "x" * 1001})
    assert response.status_code == 400
    assert "Keep the comment to 1000 characters." in response.get_data(as_text=True)
    assert rating_count(db) == 0


def test_no_rating_before_receipt(client, db, login, world):
    order = world.order_in(db, "delivered")
    login(world.requester)
    page = client.get(f"/orders/{order.id}/rating")
    assert page.status_code == 409
    assert "once the order has been received" in page.get_data(as_text=True)
    assert client.post(f"/orders/{order.id}/rating", data={"stars": "5"}).status_code == 409
    assert rating_count(db) == 0


def test_a_second_rating_is_refused(client, db, login, world, received):
    order = received()
    login(world.requester)
    assert client.post(f"/orders/{order.id}/rating", data={"stars": "5"}).status_code == 302

    again = client.post(f"/orders/{order.id}/rating", data={"stars": "1"})

    assert again.status_code == 302
    assert "already been rated" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert rating_count(db) == 1
    db.refresh(world.vendor)
    assert (world.vendor.rating_count, world.vendor.rating_stars_total) == (1, 5)


@pytest.mark.parametrize(("who", "status"), [("other_requester", 404), ("approver", 403)])
def test_only_the_requester_may_rate(client, db, login, world, received, who, status):
    order = received()
    login(getattr(world, who))
    assert client.get(f"/orders/{order.id}/rating").status_code == status
    assert client.post(f"/orders/{order.id}/rating", data={"stars": "5"}).status_code == status
    assert rating_count(db) == 0


# The partial the order page includes ------------------------------------------------------


def render_order_rating(app, db, user_id, order_id):
    db.commit()  # the page reads in its own session
    with app.test_request_context():
        browser_session["lang"] = "en"
        session = get_session()
        login_user(session.get(User, user_id))
        return render_template("ratings/_order_rating.html", order=session.get(Order, order_id))


def test_the_order_offers_rating_to_its_requester_only(app, db, world, received):
    order = received()
    link = f'href="/orders/{order.id}/rating"'
    assert link in render_order_rating(app, db, world.requester.id, order.id)
    assert "Rate this vendor" in render_order_rating(app, db, world.requester.id, order.id)
    assert render_order_rating(app, db, world.approver.id, order.id).strip() == ""
    not_yet = world.order_in(db, "delivered")
    assert render_order_rating(app, db, world.requester.id, not_yet.id).strip() == ""


def test_the_order_shows_its_rating_in_stars_and_words(app, db, world, received):
    order = received()
    rate_vendor(db, world.requester, order, 4, "Porsi pas, kemasan rapi.")
    for user in (world.requester, world.approver, world.vendor_owner):
        html = render_order_rating(app, db, user.id, order.id)
        assert 'role="img" aria-label="4 stars out of 5"' in html
        assert "★★★★" in html
        assert "4 – good" in html
        assert "Porsi pas, kemasan rapi." in html
        assert "Rate this vendor" not in html


# The vendor's page --------------------------------------------------------------------------


@pytest.fixture
def rated_vendor(db, world, received):
    """The world's vendor with two ratings (5 and 4) and 23 of 25 deliveries on time."""
    rate_vendor(db, world.requester, received(), 5, "Nasi masih hangat, tepat waktu.")
    rate_vendor(db, world.requester, received(), 4, "Porsi pas.")
    world.vendor.receipts_count, world.vendor.receipts_on_time = 25, 23
    world.requester.name = "Siti Rahmawati"
    db.flush()
    return world.vendor


def test_the_vendor_page_shows_ratings_punctuality_and_products(client, login, world, rated_vendor):
    login(world.other_requester)  # another agency

    response = client.get(f"/catalog/vendors/{rated_vendor.id}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"<h1>{rated_vendor.trading_name}</h1>" in html
    assert "Caterer" in html and "Micro business" in html
    assert "Tebet, Jakarta Selatan" in html
    assert "Tebet, Menteng, Gambir" in html
    assert "4.5 out of 5" in html
    assert "· 2 ratings" in html
    assert 'style="width: 50%"' in html  # one rating of 5 stars, one of 4, of two
    assert "92% on time, of 25 received orders" in html
    assert "Nasi masih hangat, tepat waktu." in html and "Porsi pas." in html
    # The agency that rated, never the person.
    assert world.agency.name in html
    assert "Siti Rahmawati" not in html
    assert f'href="/catalog/products/{world.product.id}"' in html


def test_the_average_is_written_as_the_language_writes_it(client, login, world, rated_vendor):
    login(world.other_requester)
    with client.session_transaction() as session:
        session["lang"] = "id"
    assert "4,5" in client.get(f"/catalog/vendors/{rated_vendor.id}").get_data(as_text=True)


def test_a_vendor_without_ratings_or_deliveries(client, db, login, world):
    ProductFactory(vendor=world.vendor, name="Snack Box Libur", status=ProductStatus.PAUSED)
    login(world.requester)
    html = client.get(f"/catalog/vendors/{world.vendor.id}").get_data(as_text=True)
    assert "No ratings yet." in html
    assert "No deliveries received yet." in html
    assert world.product.name in html
    assert "Snack Box Libur" not in html  # not on sale


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("requester", 404),
        ("other_requester", 404),
        ("other_vendor_owner", 404),
        ("vendor_owner", 200),
        ("vendor_staff", 200),
        ("curator", 200),
    ],
)
def test_an_unverified_vendor_is_shown_only_to_its_people_and_curators(
    client, db, login, world, who, status
):
    world.vendor.status = VendorStatus.PENDING
    db.flush()
    login(getattr(world, who))
    assert client.get(f"/catalog/vendors/{world.vendor.id}").status_code == status


def test_an_unknown_vendor_is_not_found(client, login, world):
    login(world.requester)
    assert client.get("/catalog/vendors/999999").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    response = client.get(f"/catalog/vendors/{world.vendor.id}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_product_page_and_catalogue_link_to_the_vendor(client, login, world, rated_vendor):
    login(world.requester)
    link = f'href="/catalog/vendors/{world.vendor.id}"'
    product_page = client.get(f"/catalog/products/{world.product.id}").get_data(as_text=True)
    assert link in product_page
    assert "4.5 out of 5" in product_page
    assert link in client.get("/catalog/").get_data(as_text=True)

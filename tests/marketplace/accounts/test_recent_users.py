"""The catalogue's page views use the signed-in person loaded a few seconds earlier; anything
that may change something, and every other page, reads them afresh."""

import pytest

from marketplace import create_app
from marketplace.accounts.recent_users import RecentUsers
from marketplace.accounts.services import load_user
from marketplace.notifications.models import Notification
from tests.conftest import CommittingClient
from tests.support import PASSWORD, statements_during


@pytest.fixture
def caching_app(app):
    """The suite's app as deployed: people kept for 10 seconds (the suite's own apps keep none,
    as ids repeat from test to test)."""
    config = {key: app.config[key] for key in ("DATABASE_URL", "UPLOAD_DIR", "SEARCH_INDEX_DIR")}
    application = create_app(
        {**config, "TESTING": True, "WTF_CSRF_ENABLED": False, "USER_CACHE_SECONDS": 10}
    )
    application.test_client_class = CommittingClient
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def browser(caching_app, db, world):
    client = caching_app.test_client()
    client.test_session = db
    with client.session_transaction() as session:
        session["lang"] = "en"
    response = client.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    assert response.status_code == 302
    client.get("/catalog/")  # shows the log-in's flashed message
    return client


def user_reads(app, action):
    return [s for s in statements_during(app, action) if "FROM users" in s]


def test_catalogue_views_reuse_the_person_for_a_few_seconds(caching_app, browser, world):
    assert browser.get("/catalog/").status_code == 200
    for path in ("/catalog/?q=nasi", f"/catalog/products/{world.product.id}", "/catalog/"):
        assert user_reads(caching_app, lambda p=path: browser.get(p)) == []
    # Other pages read the person every time.
    assert len(user_reads(caching_app, lambda: browser.get("/orders"))) >= 1


def test_a_deactivated_person_can_change_nothing(caching_app, browser, db, world):
    assert browser.get("/catalog/").status_code == 200
    world.requester.active = False
    db.commit()
    # Any request that may change something reads them afresh: refused.
    response = browser.post(f"/cart/add/{world.product.id}", data={"quantity": 10})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # So does every page but the catalogue's.
    assert "/login" in browser.get("/orders").headers["Location"]


def test_the_catalogue_lets_go_of_a_deactivated_person_after_the_delay(
    caching_app, browser, db, world, monkeypatch
):
    assert browser.get("/catalog/").status_code == 200
    world.requester.active = False
    db.commit()
    assert browser.get("/catalog/").status_code == 200  # within the delay
    import marketplace.accounts.recent_users as recent_users

    later = recent_users.time.monotonic() + 11
    monkeypatch.setattr(recent_users.time, "monotonic", lambda: later)
    response = browser.get("/catalog/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_persons_own_changes_show_on_their_next_view(caching_app, browser, db, world):
    db.add(Notification(user_id=world.requester.id, kind="order.approved"))
    db.commit()
    assert 'class="counter">1<' not in browser.get("/catalog/").get_data(as_text=True)
    # Something they do (here: reading their notifications) marks the session ...
    assert browser.post("/notifications/read").status_code in (302, 303)
    db.add(Notification(user_id=world.requester.id, kind="order.accepted"))
    db.commit()
    # ... so the next catalogue view reads them, and their unread count, afresh.
    assert 'class="counter">1<' in browser.get("/catalog/").get_data(as_text=True)


def test_another_session_of_the_same_person_is_not_given_this_ones_entry(
    caching_app, browser, db, world
):
    other = caching_app.test_client()
    other.test_session = db
    other.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    other.get("/catalog/")  # the flashed message
    # This browser writes, then views the catalogue: kept under its own mark.
    assert browser.post("/notifications/read").status_code in (302, 303)
    assert 'class="counter"' not in browser.get("/catalog/").get_data(as_text=True)
    db.add(Notification(user_id=world.requester.id, kind="order.approved"))
    db.commit()
    # The other browser writes too (its language): its next view reads the person afresh.
    assert other.post("/language", data={"lang": "en"}).status_code in (302, 303)
    assert 'class="counter">1<' in other.get("/catalog/").get_data(as_text=True)


def test_a_new_session_version_is_a_new_key(caching_app, browser, db, world):
    """ "Log out everywhere" bumps the version in the login key; the old key is not reused for
    the new session."""
    browser.get("/catalog/")
    world.requester.session_version += 1
    db.commit()
    other = caching_app.test_client()
    other.test_session = db
    other.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    assert len(user_reads(caching_app, lambda: other.get("/catalog/"))) == 1


def test_people_are_kept_in_a_bounded_cache_while_complete(app, db, world):
    people = [world.requester, world.approver, world.vendor_owner]
    db.commit()
    with app.extensions["db_sessionmaker"]() as session:
        loaded = [load_user(session, p.get_id(), count_unread=True) for p in people]
    kept = RecentUsers(seconds=10, size=2)
    for user in loaded:
        kept.put(user.get_id(), user)
    # The least recently used went first.
    assert kept.get(loaded[0].get_id()) is None
    assert kept.get(loaded[2].get_id()) is loaded[2]
    # One expired by a rollback in the request that loaded it is not handed out.
    with app.extensions["db_sessionmaker"]() as session:
        fresh = load_user(session, world.approver.get_id(), count_unread=True)
        kept.put("rolled back", fresh)
        session.rollback()
    assert kept.get("rolled back") is None
    # Nor one loaded without its unread count (a request that is not a page view).
    with app.extensions["db_sessionmaker"]() as session:
        kept.put("uncounted", load_user(session, world.approver.get_id()))
    assert kept.get("uncounted") is None

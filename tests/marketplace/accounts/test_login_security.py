"""Log-in throttling per address and e-mail, account lockout with backoff, the password policy."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from marketplace import create_app
from marketplace.accounts import services
from marketplace.accounts.models import User
from marketplace.accounts.passwords import common_passwords, is_common
from marketplace.audit.models import AuditEvent
from marketplace.config import TestingConfig
from tests.marketplace.accounts.test_views import NEW_VENDOR, user_count
from tests.support import PASSWORD

UNKNOWN = "nobody@example.go.id"


@pytest.fixture
def limited_app(database_url, upload_dir, search_dir):
    """The app with rate limits on, as deployed, and a fresh in-memory counter store.

    Made for each test: the limiter object is shared, and each app resets it.
    """

    class Config(TestingConfig):
        DATABASE_URL = database_url
        UPLOAD_DIR = upload_dir
        SEARCH_INDEX_DIR = search_dir
        WTF_CSRF_ENABLED = False
        RATELIMIT_ENABLED = True
        LOGIN_RATE_LIMIT = "5 per minute;20 per hour"
        LOGIN_IP_RATE_LIMIT = "8 per minute"  # low, so that the ceiling is cheap to reach

    from tests.conftest import CommittingClient

    application = create_app(Config)
    application.test_client_class = CommittingClient
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def browser(limited_app, db):
    def _browser(ip="192.0.2.10"):
        client = limited_app.test_client()
        client.test_session = db
        client.environ_base["REMOTE_ADDR"] = ip
        with client.session_transaction() as session:
            session["lang"] = "en"
        return client

    return _browser


WRONG_GUESS = "wrong-password-123"


def attempt(client, email, password=None):
    return client.post("/login", data={"email": email, "password": password or WRONG_GUESS})


def test_sixth_attempt_in_a_minute_is_throttled_without_telling_whether_the_account_exists(
    browser, world
):
    pages = {}
    for ip, email in (("192.0.2.1", UNKNOWN), ("192.0.2.2", world.requester.email)):
        client = browser(ip)
        for _ in range(5):
            assert attempt(client, email).status_code == 400
        sixth = attempt(client, email, PASSWORD)  # even the right password waits
        assert sixth.status_code == 429
        assert sixth.headers["Retry-After"]
        pages[email] = sixth.get_data(as_text=True)
        assert "Too many attempts; try again in 1 minute." in pages[email]
        assert email not in pages[email]
        assert "not correct" not in pages[email]
    main = [page[page.index("<main") : page.index("</main>")] for page in pages.values()]
    assert main[0] == main[1]  # the same words, whether the account exists or not


def test_the_throttle_page_speaks_indonesian_by_default(browser, db):
    client = browser()
    with client.session_transaction() as session:
        session.pop("lang")
    for _ in range(5):
        attempt(client, UNKNOWN)
    page = attempt(client, UNKNOWN).get_data(as_text=True)
    assert '<html lang="id">' in page


def test_the_limit_is_per_address_and_email_under_a_per_address_ceiling(browser, world):
    client = browser()
    for _ in range(5):
        attempt(client, UNKNOWN)
    assert attempt(client, UNKNOWN).status_code == 429
    # another e-mail from the same address, and the same e-mail from elsewhere, still get in
    response = attempt(client, world.requester.email, PASSWORD)
    assert response.status_code == 302
    assert attempt(browser("198.51.100.7"), UNKNOWN).status_code == 400
    # the address as a whole stops at its ceiling (8 a minute here), whatever the e-mail
    client = browser()  # logged out, same address
    statuses = [attempt(client, f"other{n}@example.go.id").status_code for n in range(3)]
    assert statuses == [400, 429, 429]


def test_five_failures_lock_the_account_from_any_address(browser, db, world):
    for n in range(5):
        assert attempt(browser(f"203.0.113.{n}"), world.requester.email).status_code == 400
    response = attempt(browser("203.0.113.99"), world.requester.email, PASSWORD)
    assert response.status_code == 429
    assert "Too many attempts; try again in 1 minute." in response.get_data(as_text=True)
    user = db.get(User, world.requester.id)
    assert user.failed_logins == 5
    assert user.locked_until is not None
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.lockout")).all()
    assert [(e.object_id, e.after["failed_logins"]) for e in events] == [(user.id, 5)]


def test_lockout_backs_off_and_caps_at_an_hour(db, world):
    email = world.requester.email
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for _ in range(4):
        assert services.attempt_login(db, email, "wrong", now=now).outcome == "bad_credentials"
    assert db.get(User, world.requester.id).locked_until is None
    waits = []
    for _ in range(9):
        services.attempt_login(db, email, "wrong", now=now)
        locked_until = db.get(User, world.requester.id).locked_until
        waits.append((locked_until - now) // timedelta(minutes=1))
        # while locked, even the right password is refused and nothing is counted
        refused = services.attempt_login(
            db, email, PASSWORD, now=locked_until - timedelta(seconds=1)
        )
        assert (refused.user, refused.outcome) == (None, "locked")
        now = locked_until
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_success_resets_the_count(db, world):
    email = world.requester.email
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for _ in range(4):
        services.attempt_login(db, email, "wrong", now=now)
    assert services.attempt_login(db, email, PASSWORD, now=now).user is not None
    user = db.get(User, world.requester.id)
    assert (user.failed_logins, user.locked_until) == (0, None)
    for _ in range(4):
        services.attempt_login(db, email, "wrong", now=now)
    assert db.get(User, world.requester.id).locked_until is None  # counted afresh


def test_every_attempt_is_logged_without_the_password_or_the_address(browser, world, caplog):
    caplog.set_level(logging.INFO, logger="marketplace.accounts.login")
    client = browser()
    for _ in range(6):
        attempt(client, world.requester.email, "hunter2-secret-guess")
    attempt(browser("198.51.100.7"), world.requester.email, PASSWORD)
    records = [r for r in caplog.records if r.name == "marketplace.accounts.login"]
    text = "\n".join(r.getMessage() for r in records)
    assert "hunter2-secret-guess" not in text
    assert PASSWORD not in text
    assert world.requester.email not in text
    outcomes = [m.split("outcome=")[1] for m in text.splitlines() if "outcome=" in m]
    assert outcomes == ["bad_credentials"] * 5 + ["throttled", "locked"]
    assert "ip=192.0.2.10" in text
    assert "account locked" in text


def test_the_suite_app_is_not_throttled(client, world):
    for _ in range(7):
        assert attempt(client, UNKNOWN).status_code == 400


# The password policy


def test_the_common_password_list_is_shipped():
    common = common_passwords()
    assert len(common) > 1000
    assert {"123456", "password", "bismillah", "sayangkamu", "qwerty123456"} <= common


@pytest.mark.parametrize(
    "password",
    ["Password123456", "QWERTY123456", "jakarta2026!!!", "bismillah1234", "abcabcabcabc"],
)
def test_common_passwords_and_their_decorations_are_refused(password):
    assert is_common(password)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pw", "Use at least 12 characters for the password."),
        ("password1234", "This password is too common"),
        ("SayangKamu123", "This password is too common"),
        ("siti@dapursiti.id", "Do not use your email address or your name"),
        ("Siti Rahmawati 2026", "Do not use your email address or your name"),
    ],
)
def test_registration_refuses_weak_passwords(client, db, password, message):
    response = client.post("/register", data=dict(NEW_VENDOR, password=password, confirm=password))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert user_count(db) == 0


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("qwertyuiop123", "This password is too common"),
        ("tiny", "Use at least 12 characters for the password."),
    ],
)
def test_password_change_refuses_weak_passwords(client, db, login, world, password, message):
    login(world.requester)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": password, "confirm": password},
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert login(world.requester)  # the old password still works


def test_password_change_refuses_ones_own_email(client, login, world):
    login(world.requester)
    email = world.requester.email.upper()
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": email, "confirm": email},
    )
    assert response.status_code == 400
    assert "Do not use your email address or your name" in response.get_data(as_text=True)


def test_curator_cannot_give_a_common_initial_password(client, db, login, world):
    login(world.curator)
    before = user_count(db)
    response = client.post(
        "/admin/users/new",
        data={
            "name": "Budi Santoso",
            "email": "budi@dinkes.go.id",
            "password": "indonesia1945",
            "agency_id": world.agency.id,
            "roles": ["approver"],
        },
    )
    assert response.status_code == 400
    assert "This password is too common" in response.get_data(as_text=True)
    assert user_count(db) == before


def test_logging_out_ends_the_other_sessions_too(app, client, login, db, world):
    from tests.support import PASSWORD

    db.commit()
    other_browser = app.test_client()
    other_browser.test_session = db  # type: ignore[attr-defined]
    response = other_browser.post(
        "/login", data={"email": world.approver.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert other_browser.get("/approvals").status_code == 200
    login(world.approver)
    client.post("/logout")
    assert other_browser.get("/approvals").status_code == 302  # sent to log in again

"""Logging in and out, vendor registration, passwords, sessions and safe redirects."""

import pytest
from sqlalchemy import func, select

from catalog.models import Vendor, VendorStatus
from marketplace.accounts.models import Role, User
from tests.support import PASSWORD

NEW_VENDOR = {
    "name": "Siti Rahmawati",
    "email": "siti@dapursiti.id",
    "password": "nasi-uduk-betawi-2026",
    "confirm": "nasi-uduk-betawi-2026",
    "legal_name": "CV Dapur Siti Betawi",
    "trading_name": "Dapur Siti",
    "business_type": "caterer",
    "scale": "micro",
    "district": "Cempaka Putih",
    "city": "Jakarta Pusat",
    "phone": "0812-3456-7890",
    "nib": "9120-0012-3456-7",
    "npwp": "",
    "service_districts": "Menteng, Johar Baru,  kemayoran",
    "jakpreneur_number": "",
    "contact_person": "Siti Rahmawati",
    "bank_name": "Bank DKI",
    "bank_account_number": "101-23-45678",
    "bank_account_holder": "Siti Rahmawati",
}


def user_count(db):
    return db.scalar(select(func.count()).select_from(User))


def test_login_and_logout(client, world):
    response = client.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/orders").status_code == 200
    client.post("/logout")
    assert client.get("/orders").status_code == 302  # back to the login page


def test_wrong_password_gets_one_message_for_both_faults(client, world):
    wrong_password = client.post("/login", data={"email": world.requester.email, "password": "x"})
    unknown_email = client.post("/login", data={"email": "nobody@example.go.id", "password": "x"})
    for response in (wrong_password, unknown_email):
        assert response.status_code == 400
        assert "The email or password is not correct." in response.get_data(as_text=True)
    assert client.get("/orders").status_code == 302


def test_session_is_renewed_at_login(client, world):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "https://evil.example/x",
        "%2F%2Fevil.example",
        "/%5Cevil.example",
        "%252F%252Fevil.example",
        "javascript:alert(1)",
        "/%09/evil.example",
    ],
)
def test_next_never_leaves_the_site(client, world, target):
    response = client.post(
        f"/login?next={target}", data={"email": world.requester.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_within_the_site_is_followed(client, world):
    response = client.post(
        "/login?next=/orders?status=submitted",
        data={"email": world.requester.email, "password": PASSWORD},
    )
    assert response.headers["Location"] == "/orders?status=submitted"


def test_vendor_registers_and_awaits_verification(client, db):
    response = client.post("/register", data=NEW_VENDOR)
    assert response.status_code == 302
    vendor = db.scalar(select(Vendor).where(Vendor.trading_name == "Dapur Siti"))
    assert vendor.status is VendorStatus.PENDING
    user = db.scalar(select(User).where(User.email == "siti@dapursiti.id"))
    assert user.roles_in_vendor(vendor.id) == {Role.VENDOR_OWNER}
    assert user.password_hash != NEW_VENDOR["password"]
    assert vendor.nib == "9120001234567"
    assert vendor.npwp is None
    assert vendor.service_districts == ["Cempaka Putih", "Menteng", "Johar Baru", "Kemayoran"]
    assert vendor.bank_account_number == "1012345678"
    assert "verif" in client.get("/vendor/").get_data(as_text=True).lower()


def test_duplicate_email_is_refused_and_nothing_is_created(client, db, world):
    before = user_count(db)
    data = dict(NEW_VENDOR, email=world.requester.email.upper())
    response = client.post("/register", data=data)
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert "Dapur Siti" in response.get_data(as_text=True)  # what was typed is kept
    assert user_count(db) == before
    assert db.scalar(select(Vendor).where(Vendor.trading_name == "Dapur Siti")) is None


def test_short_password_is_refused(client, db):
    response = client.post("/register", data=dict(NEW_VENDOR, password="short", confirm="short"))
    assert response.status_code == 400
    assert user_count(db) == 0


def test_password_change_ends_other_sessions(app, client, world):
    other_device = app.test_client()
    other_device.test_session = client.test_session
    other_device.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    assert other_device.get("/orders").status_code == 200

    client.post("/login", data={"email": world.requester.email, "password": PASSWORD})
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a-much-longer-secret",
            "confirm": "a-much-longer-secret",
        },
    )
    assert response.status_code == 302
    assert client.get("/orders").status_code == 200  # this session carries on
    assert other_device.get("/orders").status_code == 302  # the other one is logged out


def test_password_change_with_wrong_current_password(client, login, world):
    login(world.requester)
    response = client.post(
        "/account/password",
        data={
            "current_password": "wrong-wrong-wrong",
            "new_password": "a-much-longer-secret",
            "confirm": "a-much-longer-secret",
        },
    )
    assert response.status_code == 400
    assert "not correct" in response.get_data(as_text=True)


def test_curator_creates_agency_users(client, db, login, world):
    login(world.curator)
    response = client.post(
        "/admin/users/new",
        data={
            "name": "Budi Santoso",
            "position": "PPK",
            "email": "budi@dinkes.go.id",
            "password": "a-strong-initial-pw",
            "agency_id": world.agency.id,
            "roles": ["approver"],
        },
    )
    assert response.status_code == 302
    user = db.scalar(select(User).where(User.email == "budi@dinkes.go.id"))
    assert user.roles_in_agency(world.agency.id) == {Role.APPROVER}


def test_agency_roles_need_an_agency(client, db, login, world):
    login(world.curator)
    before = user_count(db)
    response = client.post(
        "/admin/users/new",
        data={
            "name": "Budi",
            "email": "budi@dinkes.go.id",
            "password": "a-strong-initial-pw",
            "agency_id": 0,
            "roles": ["approver"],
        },
    )
    assert response.status_code == 400
    assert user_count(db) == before


def test_only_curators_create_users(client, db, login, world):
    login(world.approver)
    before = user_count(db)
    response = client.post(
        "/admin/users/new",
        data={
            "name": "Budi",
            "email": "budi@dinkes.go.id",
            "password": "a-strong-initial-pw",
            "agency_id": world.agency.id,
            "roles": ["approver"],
        },
    )
    assert response.status_code == 403
    assert user_count(db) == before


def test_every_form_needs_a_csrf_token(csrf_client, world):
    response = csrf_client.post(
        "/login", data={"email": world.requester.email, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert csrf_client.get("/orders").status_code == 302


def test_indonesian_is_the_default_and_english_is_a_switch_away(app, db, world):
    browser = app.test_client()
    browser.test_session = db
    page = browser.get("/login").get_data(as_text=True)
    assert '<html lang="id">' in page
    assert "Masuk" in page
    browser.post("/language", data={"lang": "en", "next": "/login"})
    page = browser.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Log in" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("nib", "12345", "13 digits"),
        ("nib", "12345678901234", "13 digits"),
        ("npwp", "1234", "15 or 16 digits"),
        ("bank_account_number", "12ab", "account number"),
    ],
)
def test_identity_numbers_are_checked(client, db, field, value, message):
    response = client.post("/register", data=dict(NEW_VENDOR, **{field: value}))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert user_count(db) == 0


def test_a_nib_registers_once(client, db):
    client.post("/register", data=NEW_VENDOR)
    client.post("/logout")
    response = client.post("/register", data=dict(NEW_VENDOR, email="other@dapursiti.id"))
    assert response.status_code == 400
    assert "NIB is already registered" in response.get_data(as_text=True)
    assert user_count(db) == 1

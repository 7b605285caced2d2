"""Approving, paying and changing budgets need a recent log-in; a stale submission is carried
over the password confirmation, not lost. "Keep me logged in" cookies are revocable."""

import re
import time

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace.budgets.models import BudgetEntry
from marketplace.ordering.models import OrderStatus
from tests.support import PASSWORD


def _age_login(client, minutes: int) -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as browser:
        browser["auth_at"] = int(time.time()) - minutes * 60


@pytest.fixture
def stale_approver(client, db, login, world):  # type: ignore[no-untyped-def]
    order = world.order_in(db, "submitted")
    db.commit()
    login(world.approver)
    _age_login(client, 31)
    return order


def test_a_recent_login_approves_at_once(client, db, login, world):
    order = world.order_in(db, "submitted")
    db.commit()
    login(world.approver)
    _age_login(client, 29)
    assert client.post(f"/orders/{order.id}/approve").status_code == 302
    db.refresh(order)
    assert order.status is OrderStatus.APPROVED


def test_a_stale_approval_asks_for_the_password_and_changes_nothing(client, db, stale_approver):
    order = stale_approver
    response = client.post(f"/orders/{order.id}/approve", data={"version": order.version})
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Confirm it is you" in html and "nothing has been done yet" in html
    assert f'name="version" value="{order.version}"' in html  # the submission is carried
    assert f'action="/orders/{order.id}/approve"' in html
    db.refresh(order)
    assert order.status is OrderStatus.SUBMITTED


def test_the_confirmation_finishes_the_carried_action(client, db, stale_approver):
    order = stale_approver
    response = client.post(
        f"/orders/{order.id}/approve",
        data={"version": order.version, "reauth_password": PASSWORD},
    )
    assert response.status_code == 302
    db.refresh(order)
    assert order.status is OrderStatus.APPROVED
    # and the log-in is recent again
    with client.session_transaction() as browser:
        assert time.time() - browser["auth_at"] < 5


def test_a_wrong_password_confirms_nothing_and_counts_as_a_failure(
    client, db, stale_approver, world
):
    order = stale_approver
    response = client.post(
        f"/orders/{order.id}/approve",
        data={"version": order.version, "reauth_password": "not-my-password"},
    )
    assert response.status_code == 401
    assert "The password is not correct." in response.get_data(as_text=True)
    db.refresh(order)
    db.refresh(world.approver)
    assert order.status is OrderStatus.SUBMITTED
    assert world.approver.failed_logins == 1


def test_repeated_wrong_confirmations_end_the_session(client, db, stale_approver, world):
    order = stale_approver
    for _ in range(5):
        client.post(
            f"/orders/{order.id}/approve",
            data={"version": order.version, "reauth_password": "not-my-password"},
        )
    db.refresh(world.approver)
    assert world.approver.locked_until is not None
    assert client.get("/approvals").status_code == 302  # logged out
    db.refresh(order)
    assert order.status is OrderStatus.SUBMITTED


def test_a_stale_budget_change_is_confirmed_then_applied(client, db, login, world):
    db.commit()
    login(world.budget_holder)
    _age_login(client, 60)
    data = {"allocation": world.line.allocation + 1_000_000, "reason": "Tambahan"}
    entries = select(func.count()).select_from(BudgetEntry)
    before = db.scalar(entries)
    assert client.post(f"/budgets/{world.line.id}/allocation", data=data).status_code == 401
    assert db.scalar(entries) == before
    done = client.post(
        f"/budgets/{world.line.id}/allocation", data={**data, "reauth_password": PASSWORD}
    )
    assert done.status_code == 302
    assert db.scalar(entries) == before + 1


def test_the_payment_page_asks_before_it_opens(client, db, login, world):
    order = world.order_in(db, "received")
    db.commit()
    login(world.treasurer)
    _age_login(client, 45)
    page = client.get(f"/orders/{order.id}/pay")
    assert page.status_code == 401
    action = re.search(r'action="(/account/confirm[^"]+)"', page.get_data(as_text=True))
    assert action and action.group(1).startswith("/account/confirm?next=")
    wrong = client.post(action.group(1).replace("&amp;", "&"), data={"reauth_password": "nope"})
    assert wrong.status_code == 401
    confirmed = client.post(
        action.group(1).replace("&amp;", "&"), data={"reauth_password": PASSWORD}
    )
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"].endswith(f"/orders/{order.id}/pay")
    assert client.get(f"/orders/{order.id}/pay").status_code == 200


def test_confirmation_never_redirects_off_site(client, db, login, world):
    db.commit()
    login(world.treasurer)
    response = client.post(
        "/account/confirm?next=//evil.example/", data={"reauth_password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_two_factor_user_confirms_with_a_code_too(client, db, login, world):
    order = world.order_in(db, "submitted")
    secret = pyotp.random_base32()
    world.approver.totp_secret = secret
    db.commit()
    login(world.approver)  # the login fixture only does the password step
    client.post(
        "/login/two-factor",
        data={"code": pyotp.TOTP(secret).generate_otp(int(time.time() // 30) - 1)},
    )
    _age_login(client, 31)
    without_code = client.post(f"/orders/{order.id}/approve", data={"reauth_password": PASSWORD})
    assert without_code.status_code == 401
    assert 'name="reauth_code"' in without_code.get_data(as_text=True)
    code = pyotp.TOTP(secret).generate_otp(int(time.time() // 30))
    done = client.post(
        f"/orders/{order.id}/approve", data={"reauth_password": PASSWORD, "reauth_code": code}
    )
    assert done.status_code == 302
    db.refresh(order)
    assert order.status is OrderStatus.APPROVED


def test_api_tokens_are_made_only_after_a_recent_login(client, db, login, world):
    db.commit()
    login(world.requester)
    _age_login(client, 31)
    response = client.post(
        "/account/api-tokens/", data={"name": "Laporan", "scopes": ["orders:read"]}
    )
    assert response.status_code == 401


# "Keep me logged in"


def _remembered_browser(app, db, cookie):  # type: ignore[no-untyped-def]
    browser = app.test_client()
    browser.test_session = db
    browser.set_cookie("remember_token", cookie)
    return browser


def _remember_login(client, user):  # type: ignore[no-untyped-def]
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}
    )
    assert response.status_code == 302
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    return cookie


def test_remember_me_keeps_a_browser_logged_in_for_two_weeks(app, client, db, world):
    db.commit()
    cookie = _remember_login(client, world.requester)
    assert cookie.http_only
    assert cookie.expires is not None
    assert 13 * 86400 < cookie.expires.timestamp() - time.time() <= 14 * 86400 + 60
    returning = _remembered_browser(app, db, cookie.value)
    assert returning.get("/orders").status_code == 200


def test_a_remembered_browser_is_not_a_recent_login(app, client, db, world):
    order = world.order_in(db, "submitted")
    db.commit()
    cookie = _remember_login(client, world.approver)
    returning = _remembered_browser(app, db, cookie.value)
    assert returning.post(f"/orders/{order.id}/approve").status_code == 401


def test_without_the_box_no_cookie_is_set(client, db, login, world):
    db.commit()
    login(world.requester)
    assert client.get_cookie("remember_token") is None


@pytest.mark.parametrize("how", ["logout", "password", "end-others"])
def test_remember_me_cookies_are_revoked(app, client, db, world, how):
    db.commit()
    cookie = _remember_login(client, world.requester)
    if how == "logout":
        client.post("/logout")
    elif how == "password":
        client.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "a-brand-new-passphrase-2026",
                "confirm": "a-brand-new-passphrase-2026",
            },
        )
    else:
        assert client.post("/account/sessions/end-others").status_code == 302
        assert client.get("/orders").status_code == 200  # this browser carries on
    returning = _remembered_browser(app, db, cookie.value)
    assert returning.get("/orders").status_code == 302  # sent to log in

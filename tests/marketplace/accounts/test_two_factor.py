"""Two-step log-in: setting it up, logging in with a code or a recovery code, replays refused,
wrong codes locking the account, roles that require it, switching it off, an operator's reset."""

import re
import time

import pyotp
import pytest
from sqlalchemy import func, select

from marketplace.accounts import services, two_factor
from marketplace.accounts.models import RecoveryCode, User
from marketplace.audit.models import AuditEvent
from tests.support import PASSWORD


def _secret_on_page(html: str) -> str:
    match = re.search(r'class="secret-key"[^>]*>([A-Z2-7 ]+)<', html)
    assert match, "the setup key is shown"
    return match.group(1).replace(" ", "")


def _code(secret: str, offset: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // 30) + offset)


def _switch_on(client, db, user) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    secret = _secret_on_page(client.get("/account/two-factor/setup").get_data(as_text=True))
    page = client.post(
        "/account/two-factor/setup", data={"code": _code(secret), "password": PASSWORD}
    )
    assert page.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page.get_data(as_text=True))
    db.expire_all()
    return secret, codes


@pytest.fixture
def enrolled(client, db, login, world):  # type: ignore[no-untyped-def]
    """The approver with two-step log-in on, logged out; (user, secret, recovery codes)."""
    login(world.approver)
    secret, codes = _switch_on(client, db, world.approver)
    db.execute(  # the enrolment used the current step; later logins in this test use others
        User.__table__.update().where(User.id == world.approver.id).values(totp_last_step=None)
    )
    db.commit()
    client.post("/logout")
    return world.approver, secret, codes


def _password_step(client, user):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"email": user.email, "password": PASSWORD})


def _logged_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/orders").status_code == 200


def test_setup_shows_a_qr_code_and_key_and_switches_on_with_a_right_code(client, db, login, world):
    login(world.requester)
    page = client.get("/account/two-factor/setup")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html and "QR code for your authenticator app" in html
    assert page.headers["Cache-Control"] == "no-store"
    secret = _secret_on_page(html)

    wrong = client.post("/account/two-factor/setup", data={"code": "000000", "password": PASSWORD})
    assert wrong.status_code == 400
    assert "That code does not match" in wrong.get_data(as_text=True)
    bad_password = client.post(
        "/account/two-factor/setup", data={"code": _code(secret), "password": "not-my-password"}
    )
    assert bad_password.status_code == 400
    db.expire_all()
    assert world.requester.totp_secret is None

    done = client.post(
        "/account/two-factor/setup", data={"code": _code(secret), "password": PASSWORD}
    )
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert done.headers["Cache-Control"] == "no-store"
    db.expire_all()
    assert world.requester.totp_secret == secret
    stored = db.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == world.requester.id)
    )
    assert not set(codes) & set(stored)  # only hashes are kept
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "user.two_factor_on"))


def test_login_asks_for_the_code_after_the_password(client, db, enrolled):
    user, secret, _codes = enrolled
    response = _password_step(client, user)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/login/two-factor"
    )
    assert not _logged_in(client)  # the password alone is not a log-in

    assert client.post("/login/two-factor", data={"code": "123456"}).status_code == 400
    assert not _logged_in(client)
    response = client.post("/login/two-factor", data={"code": _code(secret)})
    assert response.status_code == 302
    assert _logged_in(client)


def test_a_code_works_once(client, db, enrolled, app):
    user, secret, _codes = enrolled
    code = _code(secret)
    _password_step(client, user)
    assert client.post("/login/two-factor", data={"code": code}).status_code == 302
    client.post("/logout")

    other = app.test_client()
    other.test_session = db
    _password_step(other, user)
    replay = other.post("/login/two-factor", data={"code": code})
    assert replay.status_code == 400
    assert not _logged_in(other)


def test_a_recovery_code_logs_in_once(client, db, enrolled):
    user, _secret, codes = enrolled
    _password_step(client, user)
    response = client.post("/login/two-factor", data={"code": codes[0].upper()})
    assert response.status_code == 302
    assert _logged_in(client)
    client.post("/logout")

    _password_step(client, user)
    assert client.post("/login/two-factor", data={"code": codes[0]}).status_code == 400
    assert (
        db.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        == 9
    )


def test_wrong_codes_lock_the_account_even_with_the_right_password(client, db, enrolled):
    user, _secret, _codes = enrolled
    for _ in range(services.LOCKOUT_THRESHOLD):
        _password_step(client, user)  # knowing the password must not reset the count
        client.post("/login/two-factor", data={"code": "000000"})
    db.expire_all()
    assert user.locked_until is not None
    assert _password_step(client, user).status_code == 429
    assert not _logged_in(client)


def test_the_second_step_expires(client, db, enrolled):
    user, secret, _codes = enrolled
    _password_step(client, user)
    with client.session_transaction() as browser:
        browser["pending_login"]["at"] -= 301
        browser.modified = True
    response = client.post("/login/two-factor", data={"code": _code(secret)})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not _logged_in(client)


def test_a_password_alone_never_authenticates_a_two_factor_user(db, enrolled):
    user, _secret, _codes = enrolled
    assert services.authenticate(db, user.email, PASSWORD) is None


def test_roles_that_require_it_set_it_up_before_anything_else(
    client, db, login, world, app, monkeypatch
):
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED_ROLES", "approver,treasurer")
    login(world.approver)
    response = client.get("/approvals")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/two-factor/setup")
    assert client.post(f"/orders/{world.submitted_order(db).id}/approve").status_code == 302
    assert client.get("/account/two-factor/setup").status_code == 200

    login(world.requester)  # not a role that requires it
    assert client.get("/orders").status_code == 200


def test_a_required_second_factor_cannot_be_switched_off(client, db, enrolled, app, monkeypatch):
    user, secret, _codes = enrolled
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED_ROLES", "approver")
    _password_step(client, user)
    client.post("/login/two-factor", data={"code": _code(secret, -1)})
    client.post("/account/two-factor/disable", data={"password": PASSWORD, "code": _code(secret)})
    db.expire_all()
    assert user.totp_secret is not None


def test_switching_off_needs_both_factors_and_ends_other_sessions(client, db, enrolled, app):
    user, secret, _codes = enrolled
    _password_step(client, user)
    client.post("/login/two-factor", data={"code": _code(secret, -1)})
    elsewhere = app.test_client()
    elsewhere.test_session = db
    _password_step(elsewhere, user)
    elsewhere.post("/login/two-factor", data={"code": _code(secret, 0)})
    assert _logged_in(elsewhere)

    client.post("/account/two-factor/disable", data={"password": "wrong", "code": _code(secret, 1)})
    db.expire_all()
    assert user.totp_secret is not None
    client.post(
        "/account/two-factor/disable", data={"password": PASSWORD, "code": _code(secret, 1)}
    )
    db.expire_all()
    assert user.totp_secret is None
    assert (
        db.scalar(
            select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id)
        )
        == 0
    )
    assert _logged_in(client)  # this browser carries on
    assert not _logged_in(elsewhere)


def test_new_recovery_codes_replace_the_old_ones(client, db, enrolled):
    user, secret, codes = enrolled
    _password_step(client, user)
    client.post("/login/two-factor", data={"code": _code(secret, -1)})
    page = client.post(
        "/account/two-factor/recovery-codes", data={"password": PASSWORD, "code": _code(secret)}
    )
    fresh = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page.get_data(as_text=True))
    assert len(fresh) == 10
    assert two_factor.verify(db, user, codes[1]) is None
    assert two_factor.verify(db, user, fresh[0]) == "recovery"


def test_an_operator_resets_a_lost_second_factor(app, db, enrolled):
    user, _secret, _codes = enrolled
    email = user.email
    db.commit()  # the command works in its own transaction
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["users", "reset-2fa", email])
    assert refused.exit_code != 0  # a reason is required
    result = runner.invoke(args=["users", "reset-2fa", email, "--reason", "lost phone"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert user.totp_secret is None
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "user.two_factor_reset"))
    assert event is not None and event.after == {"reason": "lost phone"}


def test_security_page_shows_the_state(client, login, world):
    login(world.requester)
    html = client.get("/account/security").get_data(as_text=True)
    assert "Set up two-step log-in" in html
    assert "Log out on all other devices" in html

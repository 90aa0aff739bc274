from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token

from accounts.models import User
from billing.models import CoinAccount, LedgerEntry
from tests.conftest import PASSWORD


def test_register_answers_with_token_and_balance(api, db):
    response = api.post(
        "/api/v1/auth/register/",
        {"username": "carol", "password": PASSWORD, "email": "c@example.com"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "token", "balance"}
    assert body["username"] == "carol" and body["balance"] == "500.00"
    user = User.objects.get(username="carol")
    assert Token.objects.get(user=user).key == body["token"]
    assert CoinAccount.objects.get(user=user).balance == Decimal("500.00")
    assert LedgerEntry.objects.filter(account__user=user, kind="signup_bonus").count() == 1


def test_the_signup_bonus_follows_the_setting(api, db, settings):
    settings.SIGNUP_BONUS = Decimal("0")
    response = api.post("/api/v1/auth/register/", {"username": "dave", "password": PASSWORD}, format="json")
    assert response.json()["balance"] == "0.00"
    assert LedgerEntry.objects.count() == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "carol"}, "password"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "x" * 151, "password": PASSWORD}, "username"),
        ({"username": "bad name!", "password": PASSWORD}, "username"),
        ({"username": ["carol"], "password": PASSWORD}, "username"),
        ({"username": {"a": 1}, "password": PASSWORD}, "username"),
        ({"username": "carol", "password": "short"}, "password"),
        ({"username": "carol", "password": "12345678901"}, "password"),
        ({"username": "carol", "password": "password123"}, "password"),
        ({"username": "carol", "password": PASSWORD, "email": "not-an-email"}, "email"),
        ({"username": "carol", "password": PASSWORD, "is_staff": True}, "is_staff"),
        ({"username": "ALICE", "password": PASSWORD}, "username"),
        ({"username": "Alice", "password": PASSWORD}, "username"),
    ],
)
def test_bad_registrations_are_400_and_write_nothing(api, alice, body, field):
    users, accounts, entries = User.objects.count(), CoinAccount.objects.count(), LedgerEntry.objects.count()
    response = api.post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert (User.objects.count(), CoinAccount.objects.count(), LedgerEntry.objects.count()) == (
        users,
        accounts,
        entries,
    )


def test_duplicate_usernames_are_refused_in_any_case(api, alice):
    response = api.post("/api/v1/auth/register/", {"username": "aLiCe", "password": PASSWORD}, format="json")
    assert response.json()["errors"]["username"] == ["A user with that username already exists."]


def test_token_login_gives_the_users_token(api, alice):
    response = api.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=alice).key}


def test_token_login_ignores_username_case(api, alice):
    response = api.post("/api/v1/auth/token/", {"username": "ALICE", "password": PASSWORD}, format="json")
    assert response.status_code == 200


def test_wrong_credentials_are_400(api, alice):
    response = api.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Unable to log in with the given username and password."


def test_password_guessing_is_throttled(api, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert (
            api.post(
                "/api/v1/auth/token/", {"username": "alice", "password": "guess"}, format="json"
            ).status_code
            == 400
        )
    blocked = api.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert blocked.status_code == 429
    assert "Too many failed login attempts" in blocked.json()["detail"]
    # Another account is not locked by alice's guesses.
    other = api.post("/api/v1/auth/token/", {"username": "bob", "password": "x"}, format="json")
    assert other.status_code == 400


def test_me_with_a_token(alice_api, alice):
    response = alice_api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "id": alice.pk,
        "username": "alice",
        "email": "alice@example.com",
        "balance": "500.00",
        "is_staff": False,
        "webhook_url": "",
        "webhook_secret": None,
        "webhook_secret_created_at": None,
    }


def test_me_reports_staff(staff_api):
    assert staff_api.get("/api/v1/me/").json()["is_staff"] is True


@pytest.mark.parametrize("header", ["Token nonsense", "Token ", "Bearer abc", "Token a b"])
def test_a_bad_token_is_401(api, alice, header):
    response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["detail"]


def test_no_token_is_401(api, db):
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided.", "errors": {}}


def test_a_regenerated_token_replaces_the_old_one(alice, alice_web, api):
    old = Token.objects.get(user=alice).key
    alice_web.post("/accounts/profile/token/")
    new = Token.objects.get(user=alice).key
    assert new != old
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {old}").status_code == 401
    assert api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {new}").status_code == 200


def test_registration_is_throttled(api, db, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    # DRF reads the rates into a class attribute at import; monkeypatch restores it.
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "register": "2/hour"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    codes = [
        api.post(
            "/api/v1/auth/register/", {"username": f"user{i}", "password": PASSWORD}, format="json"
        ).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]

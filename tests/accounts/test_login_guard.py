"""The login guard (issue 13, items 1 and 7): every form and endpoint that checks a
password goes through it, their failures add up together, and it locks a username at
one address (or one address across usernames), never a username everywhere."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

GUESSER = "203.0.113.66"
OWNER = "198.51.100.7"
TOKEN_URL = "/api/v1/auth/token/"


def web(address: str = GUESSER) -> Client:
    return Client(REMOTE_ADDR=address)


def api(address: str = GUESSER) -> APIClient:
    return APIClient(REMOTE_ADDR=address)


def refused_as_throttled(response) -> bool:
    return response.status_code == 200 and "Too many failed login attempts" in response.content.decode()


@pytest.mark.parametrize(
    "login_url",
    ["/admin/login/", "/api/auth/login/", "/accounts/login/"],
    ids=["admin", "browsable-api", "site"],
)
def test_every_login_form_stops_password_guessing(login_url, staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    guesser = web()
    for number in range(3):
        answer = guesser.post(login_url, {"username": "staff", "password": f"guess-{number}"})
        assert answer.status_code == 200 and "_auth_user_id" not in guesser.session
    # The right password, from the address that guessed: refused, and not logged in.
    answer = guesser.post(login_url, {"username": "staff", "password": PASSWORD})
    assert refused_as_throttled(answer)
    assert "_auth_user_id" not in guesser.session
    assert guesser.get("/admin/").status_code == 302


def test_failures_on_every_route_add_up_for_the_token_endpoint_too(staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 4
    guesser = web()
    for login_url in ("/admin/login/", "/api/auth/login/", "/accounts/login/"):
        guesser.post(login_url, {"username": "staff", "password": "guess"})
    api().post(TOKEN_URL, {"username": "staff", "password": "guess"})
    answer = api().post(TOKEN_URL, {"username": "staff", "password": PASSWORD})
    assert answer.status_code == 429
    assert "Too many failed login attempts" in answer.json()["detail"]
    # And the other way round: the token endpoint's failures lock the admin's login.
    assert refused_as_throttled(guesser.post("/admin/login/", {"username": "staff", "password": PASSWORD}))


def test_the_browsable_api_login_link_still_logs_in(alice):
    browser = web(OWNER)
    page = browser.get("/api/v1/me/", HTTP_ACCEPT="text/html").content.decode()
    assert "href='/api/auth/login/?next=/api/v1/me/'" in page
    form = browser.get("/api/auth/login/?next=/api/v1/me/")
    assert form.status_code == 200 and 'name="password"' in form.content.decode()
    answer = browser.post(
        "/api/auth/login/", {"username": "alice", "password": PASSWORD, "next": "/api/v1/me/"}, follow=True
    )
    assert answer.redirect_chain[-1][0] == "/api/v1/me/"
    assert browser.get("/api/v1/me/", HTTP_ACCEPT="application/json").json()["username"] == "alice"


def test_a_wrong_password_on_the_browsable_api_login_says_so(alice):
    answer = web().post("/api/auth/login/", {"username": "alice", "password": "guess"})
    assert answer.status_code == 200
    assert "Please enter a correct username and password" in answer.content.decode()


def test_the_old_password_of_a_password_change_cannot_be_guessed(alice_web, alice, settings):
    """A borrowed session must not become an unlimited password oracle."""
    settings.LOGIN_FAILURE_LIMIT = 2
    new = "another-Long-phrase-77"
    for number in range(2):
        answer = alice_web.post(
            "/accounts/profile/",
            {"old_password": f"guess-{number}", "new_password1": new, "new_password2": new},
        )
        assert "old_password" in answer.context["password_form"].errors
    answer = alice_web.post(
        "/accounts/profile/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert "Too many failed login attempts" in answer.context["password_form"].errors["old_password"][0]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_five_wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere(alice, settings):
    assert settings.LOGIN_FAILURE_LIMIT == 5
    for number in range(5):
        assert api().post(TOKEN_URL, {"username": "alice", "password": f"guess-{number}"}).status_code == 400
    # The guessing address is locked for alice, even with her password...
    assert api().post(TOKEN_URL, {"username": "alice", "password": PASSWORD}).status_code == 429
    assert refused_as_throttled(web().post("/accounts/login/", {"username": "alice", "password": PASSWORD}))
    # ...but alice, from her own address, logs in on the API and on the site.
    assert api(OWNER).post(TOKEN_URL, {"username": "alice", "password": PASSWORD}).status_code == 200
    owner = web(OWNER)
    answer = owner.post("/accounts/login/", {"username": "ALICE", "password": PASSWORD}, follow=True)
    assert answer.redirect_chain[-1][0] == "/dashboard/"
    assert answer.context["user"] == alice


def test_guessing_from_many_addresses_never_locks_the_owner_out(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for number in range(20):
        api(f"203.0.113.{number}").post(TOKEN_URL, {"username": "alice", "password": "guess"})
    assert api(OWNER).post(TOKEN_URL, {"username": "alice", "password": PASSWORD}).status_code == 200


def test_an_address_that_guessed_across_usernames_is_locked_for_everyone(alice, bob, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for number in range(2 * 4):  # four times the limit, each username under it
        api().post(TOKEN_URL, {"username": f"victim{number}", "password": "guess"})
    assert api().post(TOKEN_URL, {"username": "bob", "password": PASSWORD}).status_code == 429
    assert api(OWNER).post(TOKEN_URL, {"username": "bob", "password": PASSWORD}).status_code == 200


def test_a_login_forgets_only_its_own_failures(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = api()
    client.post(TOKEN_URL, {"username": "alice", "password": "typo"})
    assert client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}).status_code == 200
    # The typo is forgiven: one more wrong password does not lock her.
    client.post(TOKEN_URL, {"username": "alice", "password": "typo"})
    assert client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}).status_code == 200

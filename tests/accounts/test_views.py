from accounts.models import User
from billing.models import LedgerEntry
from tests.conftest import PASSWORD


def test_a_newcomer_registers_and_sees_500_coins(client, db):
    response = client.post(
        "/accounts/register/",
        {"username": "carol", "email": "", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/dashboard/"
    page = response.content.decode()
    assert "500.00" in page
    assert "Welcome, carol!" in page
    assert User.objects.filter(username="carol").count() == 1


def test_registration_errors_show_next_to_the_fields(client, alice):
    response = client.post(
        "/accounts/register/",
        {"username": "ALICE", "password1": "short", "password2": "other"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "A user with that username already exists." in form.errors["username"]
    assert "The two passwords differ." in form.errors["password2"]
    assert User.objects.count() == 1


def test_login_and_logout(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/"
    assert response.context["user"] == alice
    response = client.post("/accounts/logout/", follow=True)
    assert response.context["user"].is_anonymous


def test_web_login_is_throttled_with_a_clear_message(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        client.post("/accounts/login/", {"username": "alice", "password": "guess"})
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert response.context["user"].is_anonymous


def test_pages_need_a_login(client, db):
    for path in ("/dashboard/", "/billing/", "/accounts/profile/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_profile_shows_the_token_and_changes_the_password(alice_web, alice):
    from rest_framework.authtoken.models import Token

    page = alice_web.get("/accounts/profile/").content.decode()
    assert Token.objects.get(user=alice).key in page
    response = alice_web.post(
        "/accounts/profile/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-Long-phrase-77",
            "new_password2": "another-Long-phrase-77",
        },
        follow=True,
    )
    assert "Your password was changed." in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password("another-Long-phrase-77")


def test_billing_page_tops_up_and_lists_the_ledger(alice_web, alice):
    response = alice_web.post("/billing/", {"amount": "12.50"}, follow=True)
    page = response.content.decode()
    assert "Added 12.50 coins. Your balance is 512.50." in page
    assert "Top-up" in page and "Signup bonus" in page
    assert LedgerEntry.objects.filter(account__user=alice, kind="topup").count() == 1


def test_billing_page_shows_bad_amounts_next_to_the_field(alice_web, alice):
    for amount in ("-3", "abc", "1.234", "999999999"):
        response = alice_web.post("/billing/", {"amount": amount})
        assert response.status_code == 200
        assert response.context["form"].errors["amount"], amount
    assert LedgerEntry.objects.filter(kind="topup").count() == 0


def test_the_balance_is_in_the_navigation_bar(alice_web):
    page = alice_web.get("/dashboard/").content.decode()
    assert 'id="nav-balance"' in page and "500.00" in page

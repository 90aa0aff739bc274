"""A password change replaces the API token (issue 13, item 14): whoever took the token
with the old password, or from the old owner of a session, loses the API with it."""

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

NEW = "another-Long-phrase-77"


def token_works(key: str) -> bool:
    return APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_changing_the_password_on_the_profile_page_replaces_the_token(alice_web, alice):
    old = Token.objects.get(user=alice).key
    response = alice_web.post(
        "/accounts/profile/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        follow=True,
    )
    page = response.content.decode()
    assert "Your password was changed. Your API token was replaced too" in page
    new = Token.objects.get(user=alice).key
    assert new != old and new in page  # the page shows the new token
    assert not token_works(old)
    assert token_works(new)
    assert response.context["user"] == alice  # still logged in


def test_a_refused_password_change_keeps_the_token(alice_web, alice):
    old = Token.objects.get(user=alice).key
    alice_web.post(
        "/accounts/profile/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": "x"}
    )
    assert Token.objects.get(user=alice).key == old and token_works(old)


def test_an_operator_changing_a_users_password_replaces_their_token(client, staff, alice):
    client.force_login(staff)
    old = Token.objects.get(user=alice).key
    response = client.post(
        f"/admin/accounts/user/{alice.pk}/password/",
        {"password1": NEW, "password2": NEW, "usable_password": "true"},
        follow=True,
    )
    assert "Their API token was replaced too" in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    assert not token_works(old)
    assert token_works(Token.objects.get(user=alice).key)


def test_an_operator_changing_their_own_password_in_the_admin_replaces_their_token(client, staff):
    client.force_login(staff)
    old = Token.objects.get(user=staff).key
    assert "old_password" in client.get("/admin/password_change/").content.decode()
    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/admin/password_change/done/"
    assert "Your API token was replaced too" in response.content.decode()
    staff.refresh_from_db()
    assert staff.check_password(NEW)
    assert not token_works(old)
    assert client.get("/admin/").status_code == 200  # the session survives the change


def test_the_admins_password_change_guards_the_old_password(client, staff, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client.force_login(staff)
    for number in range(2):
        client.post(
            "/admin/password_change/",
            {"old_password": f"guess-{number}", "new_password1": NEW, "new_password2": NEW},
        )
    response = client.post(
        "/admin/password_change/", {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    staff.refresh_from_db()
    assert staff.check_password(PASSWORD)

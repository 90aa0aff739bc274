"""Passwords are hashed with Argon2id; old PBKDF2 hashes still log in and are upgraded;
a sign-up hashes the password once. (Server time is measured by bench/bench_auth.py,
not here: no timed tests.)"""

import importlib
import os

import pytest
from django.contrib.auth import hashers

from accounts.models import User
from tests.conftest import PASSWORD

# The hashers the service runs with, before the tests' fast-hasher fixture replaced them.
CONFIGURED_HASHERS = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"]).PASSWORD_HASHERS


@pytest.fixture
def real_hashers(settings):
    settings.PASSWORD_HASHERS = CONFIGURED_HASHERS


def test_a_new_password_is_stored_as_argon2id(client, db, real_hashers):
    response = client.post(
        "/accounts/register/",
        {"username": "carol", "email": "", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.get(username="carol").password.startswith("argon2$argon2id$")


def test_an_old_pbkdf2_password_still_logs_in_and_is_upgraded_to_argon2id(client, db, real_hashers):
    # Few iterations keep the test quick; Django upgrades on algorithm, whatever the count.
    old_hash = hashers.PBKDF2PasswordHasher().encode(PASSWORD, "somesalt", iterations=1000)
    user = User.objects.create(username="dora", password=old_hash)

    response = client.post("/accounts/login/", {"username": "dora", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/dashboard/"
    assert response.context["user"] == user
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


def test_a_sign_up_hashes_the_password_once(client, db, monkeypatch):
    hasher_class = type(hashers.get_hasher("default"))
    calls = []
    original = hasher_class.encode
    monkeypatch.setattr(
        hasher_class, "encode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )

    response = client.post(
        "/accounts/register/",
        {"username": "erin", "email": "", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    response = client.post(
        "/api/v1/auth/register/",
        {"username": "fred", "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert len(calls) == 2  # one per sign-up

"""One limit on registrations for the page and the API, one counter per client address
(issue 13, item 5): each account brings the signup bonus."""

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import User
from tests.conftest import PASSWORD


@pytest.fixture
def two_an_hour(monkeypatch):
    # DRF reads the rates into a class attribute at import; monkeypatch restores it.
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "register": "2/hour"}
    )


def register_on_the_page(client: Client, username: str):
    return client.post(
        "/accounts/register/",
        {"username": username, "email": "", "password1": PASSWORD, "password2": PASSWORD},
    )


def register_on_the_api(client: APIClient, username: str):
    return client.post("/api/v1/auth/register/", {"username": username, "password": PASSWORD})


def test_the_sign_up_page_stops_an_account_farm(db, two_an_hour):
    statuses = [register_on_the_page(Client(), f"farmer{number}").status_code for number in range(3)]
    assert statuses == [302, 302, 429]
    refused = register_on_the_page(Client(), "farmer9")
    assert "Too many sign-ups from your address (at most 2 per hour). Try again in 60 minutes." in (
        refused.content.decode()
    )
    assert User.objects.filter(username__startswith="farmer").count() == 2
    # Another address still signs up.
    assert register_on_the_page(Client(REMOTE_ADDR="198.51.100.7"), "neighbour").status_code == 302


def test_the_page_and_the_api_share_one_counter_per_address(db, two_an_hour):
    assert register_on_the_api(APIClient(), "farmer1").status_code == 201
    assert register_on_the_page(Client(), "farmer2").status_code == 302
    refused = register_on_the_api(APIClient(), "farmer3")
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many sign-ups from your address (at most 2 per hour).")
    assert int(refused["Retry-After"]) > 3500
    assert register_on_the_page(Client(), "farmer4").status_code == 429
    assert User.objects.filter(username__startswith="farmer").count() == 2


def test_the_page_counts_the_client_behind_the_proxy(db, two_an_hour, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    statuses = [
        register_on_the_page(
            # A forged first entry changes nothing: the proxy's entry names the client.
            Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}, 198.51.100.7"),
            f"farmer{number}",
        ).status_code
        for number in range(3)
    ]
    assert statuses == [302, 302, 429]

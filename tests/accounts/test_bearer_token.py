"""Item 7 of issue 14: ``Authorization: Bearer <token>`` works like ``Token <token>``."""

from rest_framework.test import APIClient

from accounts.services import token_for_user


def _client(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_the_api_token_works_as_a_bearer_token(alice):
    key = token_for_user(user=alice).key
    for header in (f"Bearer {key}", f"Token {key}"):
        response = _client(header).get("/api/v1/me/")
        assert response.status_code == 200, header
        assert response.json()["username"] == "alice"


def test_a_wrong_bearer_token_is_a_401_that_still_asks_for_a_token(alice):
    response = _client("Bearer not-a-real-token").get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."
    missing = APIClient().get("/api/v1/me/")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == "Token"


def test_the_schema_documents_both_schemes(api, db):
    schema = api.get("/api/schema/?format=json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["tokenAuth"]["type"] == "apiKey" and "Token" in schemes["tokenAuth"]["description"]
    me = schema["paths"]["/api/v1/me/"]["get"]["security"]
    assert {"bearerAuth": []} in me and {"tokenAuth": []} in me


def test_the_metrics_bearer_token_is_not_an_api_token(alice, client, settings):
    # /metrics checks its own METRICS_TOKEN (not DRF): a user's API token is no key to it.
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    key = token_for_user(user=alice).key
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").status_code == 200
    # ... and the metrics token is no API token.
    assert _client("Bearer s3cret-metrics-token").get("/api/v1/me/").status_code == 401


def test_each_token_is_its_users_and_a_deactivated_users_token_stops_working(alice, bob):
    """The token lookup is compiled once per process (core.authentication): each call
    still finds its own key's user, and DRF's checks still hold."""
    keys = {user.username: token_for_user(user=user).key for user in (alice, bob)}
    for username, key in [*keys.items(), *keys.items()]:
        response = _client(f"Token {key}").get("/api/v1/me/")
        assert response.status_code == 200 and response.json()["username"] == username
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    refused = _client(f"Bearer {keys['bob']}").get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "User inactive or deleted."
    assert _client(f"Token {keys['alice']}").get("/api/v1/me/").status_code == 200

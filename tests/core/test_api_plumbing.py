import json


def test_unknown_api_urls_answer_json_404(alice_api):
    response = alice_api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "errors": {}}


def test_a_crash_under_the_api_answers_json_500(alice_api, settings):
    settings.ROOT_URLCONF = "tests.api_error_urls"
    alice_api.raise_request_exception = False
    response = alice_api.get("/api/v1/explode/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Internal server error")
    assert "boom" not in response.content.decode()


def test_wrong_method_is_json_405(alice_api):
    response = alice_api.delete("/api/v1/me/")
    assert response.status_code == 405
    assert response.json()["detail"] == 'Method "DELETE" not allowed.'


def test_malformed_json_is_a_clear_400(api, db):
    response = api.generic("POST", "/api/v1/auth/token/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_the_openapi_schema_and_swagger_ui_are_served(api, db):
    schema = api.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/auth/register/", "/api/v1/auth/token/", "/api/v1/me/", "/api/v1/billing/topup/"):
        assert path in paths, path
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()


def test_the_browsable_api_renders_for_a_logged_in_user(alice_web):
    response = alice_web.get("/api/v1/me/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "alice" in response.content.decode()
    assert response["Content-Type"].startswith("text/html")


def test_static_assets_are_vendored_not_from_a_cdn(client, db):
    page = client.get("/").content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in page
    assert "https://" not in page.split("<body")[0]


def test_an_unreachable_redis_is_a_503_naming_it_not_a_500(alice_api, settings):
    # Throttling reads the cache on every API request: with Redis gone, say so.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    alice_api.raise_request_exception = False

    response = alice_api.get("/api/v1/models/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert "Redis" in body["detail"] and "cannot be reached" in body["detail"]
    assert body["retry_after"] == 5


def test_an_unreachable_database_is_a_503_naming_it(alice_api, monkeypatch):
    from django.db import OperationalError

    from mlmodels import api as mlmodels_api

    def refused(**kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr(mlmodels_api.selectors, "model_list_for_user", refused)
    alice_api.raise_request_exception = False

    response = alice_api.get("/api/v1/models/")

    assert response.status_code == 503
    assert "its database cannot be reached" in response.json()["detail"]
    assert "5432" not in response.content.decode()  # no connection details leak


def test_a_body_over_the_upload_limit_is_a_413_that_says_so(api, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({"username": "big", "password": "p" * (2 * 1024 * 1024)})

    response = api.generic("POST", "/api/v1/auth/register/", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request body is larger than the 1.0 MB limit")

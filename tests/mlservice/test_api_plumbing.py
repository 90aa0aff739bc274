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

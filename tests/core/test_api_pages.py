"""The API's own pages: the root /api/v1/ names every resource group with what it is
for, and Swagger UI groups the endpoints by resource, each with a summary, and links
back to the site and to the token page."""

from __future__ import annotations

GROUPS = ["auth", "me", "billing", "algorithms", "datasets", "models", "experiments", "predictions"]


def test_the_api_root_names_every_resource_group_with_a_description(alice_api):
    response = alice_api.get("/api/v1/")

    assert response.status_code == 200
    body = response.json()
    assert [name for name in body if name in GROUPS] == GROUPS
    for name in GROUPS:
        assert len(body[name]["description"]) > 30, name
        assert body[name]["url"].startswith("http://testserver/api/v1/"), name
    assert "/billing/balance/" in body["billing"]["url"]
    assert "/auth/token/" in body["auth"]["url"]
    assert "auth/register/" in body["auth"]["description"]
    assert body["documentation"]["url"].endswith("/api/docs/")


def test_every_address_the_root_names_answers(alice_api):
    for name, entry in alice_api.get("/api/v1/").json().items():
        path = entry["url"].removeprefix("http://testserver")
        if name == "auth":
            continue  # POST only
        response = alice_api.get(path)
        assert response.status_code == 200, (name, response.status_code)


def test_the_browsable_root_page_shows_the_descriptions(alice_web):
    response = alice_web.get("/api/v1/", HTTP_ACCEPT="text/html")

    page = response.content.decode()
    assert response.status_code == 200
    assert "mlservice API" in page
    assert "Your coins: the balance" in page


def test_swagger_groups_every_endpoint_by_resource_with_a_summary(api, db):
    schema = api.get("/api/schema/?format=json").json()

    assert [tag["name"] for tag in schema["tags"]] == GROUPS
    assert all(tag["description"] for tag in schema["tags"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["tags"] == [path.removeprefix("/api/v1/").split("/")[0]], (method, path)
            assert operation.get("summary"), (method, path)


def test_swagger_links_back_to_the_site_and_to_the_token_page(api, db):
    description = api.get("/api/schema/?format=json").json()["info"]["description"]

    assert "](/)" in description
    assert "](/accounts/profile/)" in description

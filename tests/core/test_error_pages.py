"""The web's error pages (the real ones, with DEBUG off as in the tests): inside the
site's layout, with a way on."""

import pytest


@pytest.mark.django_db
def test_a_missing_page_keeps_the_layout_and_offers_a_way_on(client, alice):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This page does not exist" in html and "Log in" in html

    client.force_login(alice)
    response = client.get("/predictions/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Go to your dashboard" in html and 'id="nav-balance"' in html


def test_the_browser_favicon_request_finds_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")

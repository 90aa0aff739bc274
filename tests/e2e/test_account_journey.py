"""A newcomer's first minutes: sign up, see the coins, top up, read the ledger, copy
the token and call the API with it, log out."""

import json
from urllib.request import Request, urlopen

import pytest

from billing.models import LedgerEntry
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_a_newcomer_signs_up_tops_up_and_uses_the_token(live, new_page):
    page, _ = new_page()
    page.goto(live.url + "/")
    screenshot(page, "home-first-visit")
    page.get_by_role("link", name="Create an account").click()
    page.fill("#id_username", "carol")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Sign up").click()

    page.wait_for_url("**/dashboard/")
    assert "Welcome, carol!" in page.content()
    assert page.locator("#nav-balance").inner_text().strip().endswith("500.00")
    screenshot(page, "dashboard-first-visit")

    page.locator("#nav-balance").click()
    page.fill("#id_amount", "25.50")
    page.get_by_role("button", name="Add coins").click()
    assert "Added 25.50 coins. Your balance is 525.50." in page.content()
    assert page.locator("#nav-balance").inner_text().strip().endswith("525.50")
    rows = page.locator("#ledger tbody tr")
    assert rows.count() == 2
    assert "Top-up" in rows.nth(0).inner_text() and "+25.50" in rows.nth(0).inner_text()
    screenshot(page, "billing-first-top-up")

    page.get_by_role("button", name="carol").click()
    page.get_by_role("link", name="Profile and API token").click()
    token = page.locator("#api-token").input_value()
    page.get_by_role("button", name="Copy").click()
    assert "Copied" in page.get_by_role("button", name="Copied").inner_text()
    screenshot(page, "profile-token")

    request = Request(live.url + "/api/v1/me/", headers={"Authorization": f"Token {token}"})
    me = json.loads(urlopen(request, timeout=10).read())
    assert me["username"] == "carol" and me["balance"] == "525.50"

    page.get_by_role("button", name="carol").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    assert LedgerEntry.objects.filter(account__user__username="carol").count() == 2

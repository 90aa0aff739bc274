"""Issue 15, items 8-10 in Chromium at a desk (1366 px) and on a phone (390 px): lists
keep their key columns in sight and open on a tap anywhere in the row; the operations
charts fit the screen; an operator grants coins from a user's page and confirms before
publishing another user's model; the API's root and Swagger UI name every resource group
and link back to the site."""

from __future__ import annotations

import pytest

from billing.models import LedgerEntry
from mlmodels.models import TrainedModel
from tests.e2e.conftest import log_in, screenshot
from tests.e2e.test_phone import seed

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
WIDTHS = [("phone", PHONE), ("desk", DESK)]


def assert_no_sideways_scroll(page, name: str, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} is {scroll_width}px wide at {width}px ({page.url})"


def assert_in_sight(page, locator, what: str, width: int) -> None:
    assert locator.is_visible(), f"{what} is hidden at {width}px ({page.url})"
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (
        f"{what} is outside the screen at {width}px: {box} ({page.url})"
    )


def header(page, table: str, text: str):
    return page.locator(f"{table} thead th", has_text=text).first


def test_lists_keep_their_key_columns_in_sight_and_open_on_a_tap(live, new_page, alice):
    dataset, model, prediction = seed(alice)
    fee = LedgerEntry.objects.get(account__user=alice, kind="training_fee")

    for name, size in WIDTHS:
        width = size["width"]
        page, _ = new_page(**size)
        log_in(page, live.url, "alice")
        phone = name == "phone"

        page.goto(live.url + "/models/")
        for key in ("Model", "Score", "Price", "Status"):
            assert_in_sight(page, header(page, "#models", key), f"models: {key}", width)
        assert header(page, "#models", "Algorithm").is_visible() is not phone
        row = page.locator("#models tbody tr").first
        assert_in_sight(page, row.locator("td").nth(3), "models: the score", width)
        assert "0.0" in row.inner_text() or "1.0" in row.inner_text()
        assert_no_sideways_scroll(page, "models", width)
        screenshot(page, f"models-{name}")
        row.locator(".badge", has_text="ready").click()  # the status, not a link
        page.wait_for_url(f"**/models/{model.pk}/")

        page.goto(live.url + "/predictions/")
        for key in ("#", "Model", "Cost", "Status"):
            assert_in_sight(page, header(page, "#predictions", key), f"predictions: {key}", width)
        assert header(page, "#predictions", "Submitted").is_visible() is not phone
        assert_no_sideways_scroll(page, "predictions", width)
        screenshot(page, f"predictions-{name}")
        page.locator("#predictions tbody tr").first.locator("td").nth(4).click()  # the cost
        page.wait_for_url(f"**/predictions/{prediction.pk}/")

        page.goto(live.url + "/billing/?page=2")  # the fee is older than the 20 top-ups
        for key in ("What", "Amount", "Balance after"):
            assert_in_sight(page, header(page, "#ledger", key), f"ledger: {key}", width)
        assert header(page, "#ledger", "For").is_visible() is not phone
        fee_row = page.locator(f'#ledger tr[data-href="/models/{model.pk}/"]')
        assert_in_sight(page, fee_row.locator("td").nth(3), "ledger: the balance after the fee", width)
        assert f"{fee.balance_after:.2f}" in fee_row.inner_text()
        assert_no_sideways_scroll(page, "billing", width)
        screenshot(page, f"ledger-{name}")
        fee_row.locator("td").nth(2).click()  # the amount
        page.wait_for_url(f"**/models/{model.pk}/")

        page.goto(f"{live.url}/datasets/{dataset.pk}/")
        for key in ("Column", "Kind", "Missing"):
            assert_in_sight(page, header(page, "#columns", key), f"dataset columns: {key}", width)
        assert header(page, "#columns", "Mean").is_visible() is not phone
        income = page.locator("#columns tbody tr", has_text="income")
        assert ("mean" in income.inner_text()) is phone  # the summary line under the name
        assert_no_sideways_scroll(page, "dataset", width)
        screenshot(page, f"dataset-columns-{name}")


def log_in_admin(page, base_url: str) -> None:
    from tests.conftest import PASSWORD

    page.goto(base_url + "/admin/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/")


def test_the_operations_charts_fit_the_screen(live, new_page, staff):
    for name, size in WIDTHS:
        page, _ = new_page(**size)
        log_in_admin(page, live.url)
        page.goto(live.url + "/admin/operations/")
        page.wait_for_function("document.querySelectorAll('.ops-chart canvas[width]').length === 5")
        canvases = page.locator(".ops-chart canvas")
        for index in range(canvases.count()):
            assert_in_sight(page, canvases.nth(index), f"operations chart {index}", size["width"])
        assert_no_sideways_scroll(page, "operations", size["width"])
        screenshot(page, f"operations-{name}")


def test_an_operator_grants_coins_and_confirms_publishing_another_users_model(live, new_page, alice, staff):
    _, model, _ = seed(alice)

    page, _ = new_page(**DESK)
    log_in_admin(page, live.url)
    page.goto(live.url + "/admin/mlmodels/trainedmodel/")
    price = page.locator(f'input[name$="-price_per_row"][value="{model.price_per_row:.4f}"]').first
    if not price.count():
        price = page.locator('input[name$="-price_per_row"]').first
    assert_in_sight(page, price, "the price field", DESK["width"])
    assert_no_sideways_scroll(page, "models admin", DESK["width"])
    results = page.locator("#changelist .results")
    assert results.evaluate("box => box.scrollWidth <= box.clientWidth"), "the model list scrolls sideways"
    algorithm_filter = page.locator("#changelist-filter details", has_text="By algorithm")
    names = [text.strip() for text in algorithm_filter.locator("li a").all_inner_texts()]
    assert names.count("Random forest") == 1 and names.count("CatBoost") == 1
    screenshot(page, "p15c-admin-models-desk")

    page.locator("#result_list tr", has_text="Segment forest").locator("input.action-select").check()
    page.select_option("select[name=action]", "publish")
    page.locator("button[name=index]").click()
    assert "Publish models of other users?" in page.content()
    assert "alice" in page.locator("#content").inner_text()
    screenshot(page, "p15c-admin-publish-confirm")
    assert TrainedModel.objects.get(pk=model.pk).is_public is False
    page.get_by_role("button", name="Yes, publish").click()
    page.wait_for_url("**/admin/mlmodels/trainedmodel/")
    assert "is published" in page.content()
    assert TrainedModel.objects.get(pk=model.pk).is_public is True

    for name, size in WIDTHS:
        page, _ = new_page(**size)
        log_in_admin(page, live.url)
        page.goto(f"{live.url}/admin/accounts/user/{alice.pk}/change/")
        content = page.locator("#content").inner_text()
        newest = LedgerEntry.objects.filter(account__user=alice).order_by("-created_at", "-id").first()
        assert "Recent ledger" in content and newest.get_kind_display() in content
        balance = alice.coin_account.__class__.objects.get(user=alice).balance
        assert f"{balance} coins" in content
        screenshot(page, f"admin-user-{name}")
        button = page.get_by_role("link", name="Grant coins")
        assert_in_sight(page, button, "the Grant coins button", size["width"])
        button.click()
        page.fill("#id_amount", "10")
        page.fill("#id_memo", f"thanks ({name})")
        page.get_by_role("button", name="Grant coins").click()
        page.wait_for_url(f"**/admin/accounts/user/{alice.pk}/change/")
        assert f"Granted 10.00 coins to alice: the balance is now {balance + 10:.2f}." in page.content()
    assert LedgerEntry.objects.filter(account__user=alice, kind="grant", created_by=staff).count() == 2


def test_the_api_pages_name_every_group_and_link_back_to_the_site(live, new_page, alice):
    for name, size in WIDTHS:
        page, _ = new_page(**size)
        log_in(page, live.url, "alice")

        page.goto(live.url + "/api/v1/")
        text = page.locator("body").inner_text()
        for group in (
            "auth",
            "me",
            "billing",
            "algorithms",
            "datasets",
            "models",
            "experiments",
            "predictions",
        ):
            assert f'"{group}"' in text, group
        assert "Your coins: the balance" in text
        screenshot(page, f"api-root-{name}")

        page.goto(live.url + "/api/docs/")
        page.wait_for_selector(".opblock-tag-section")
        tags = [
            text.strip() for text in page.locator(".opblock-tag-section h3 .nostyle span").all_inner_texts()
        ]
        assert tags[:3] == ["auth", "me", "billing"], tags
        assert "Exchange a username and password for the API token" in page.locator("body").inner_text()
        screenshot(page, f"swagger-{name}")
        # Swagger UI opens description links in a new tab: follow the addresses instead.
        assert page.get_by_role("link", name="Back to the site").get_attribute("href") == "/"
        token_link = page.get_by_role("link", name="Your API token").get_attribute("href")
        assert token_link == "/accounts/profile/"
        page.goto(live.url + token_link)
        assert "API token" in page.locator("main").inner_text()

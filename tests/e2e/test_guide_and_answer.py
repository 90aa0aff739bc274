"""Issue 15, items 1, 2, 3 and 5 in Chromium at desktop (1366 px) and phone (390 px)
width: the train form names the task from the target and offers its algorithms only,
shows every error at once in the labels' words and reads 1 → 2 → 3 on a phone; a
training shows a badge that agrees with its progress card, elapsed time, and can be
canceled with a refund; a one-row prediction answers under the form in large type,
from an example row, and again for a "what if"."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.selectors import balance_for_user
from mlmodels import services as model_services
from mlmodels.models import Dataset, TrainedModel
from tests.conftest import wait_for
from tests.e2e.conftest import htmx_settled, log_in, nav_balance, screenshot
from tests.e2e.test_ml_journey import customers_csv

pytestmark = pytest.mark.e2e

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _dataset(user) -> Dataset:
    upload = SimpleUploadedFile("customers.csv", customers_csv().encode(), content_type="text/csv")
    dataset = model_services.dataset_upload(user=user, file=upload, name="customers")
    wait_for(lambda: Dataset.objects.get(pk=dataset.pk).status == "ready", timeout=60, what="the profile")
    return dataset


def _model(user, dataset) -> TrainedModel:
    request = model_services.training_validate(
        user=user, name="segments", dataset=dataset.pk, target="segment", algorithm="logistic_regression"
    )
    model = model_services.model_submit(user=user, request=request)
    wait_for(lambda: TrainedModel.objects.get(pk=model.pk).status == "ready", timeout=120, what="training")
    return model


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("size", WIDTHS, ids=list(WIDTHS))
def test_the_train_form_guides_and_a_training_can_be_canceled(live, new_page, alice, size):
    dataset = _dataset(alice)
    viewport = WIDTHS[size]
    page, _ = new_page(**viewport)
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, live.url, "alice")

    page.goto(f"{live.url}/models/train/?dataset={dataset.pk}")
    htmx_settled(page, lambda: page.select_option("#id_target", "segment"))
    # The task, from the target; only its algorithms, each labelled with it.
    assert "2 values → binary classification" in page.locator("#target-task").inner_text()
    options = page.locator("#id_algorithm option").all_inner_texts()
    assert any("(classification)" in text for text in options)
    assert not any("(regression)" in text for text in options)
    assert page.locator("#id_name").input_value() == "customers-segment"
    boxes = page.locator("input[name=features]")
    assert boxes.count() == 3 and all(box.is_checked() for box in boxes.all())
    # On a phone the steps read 1 → 2 → 3 from the top.
    tops = [
        page.locator("h2, summary", has_text=step).first.bounding_box()["y"]
        for step in ("Data", "Algorithm", "Advanced")
    ]
    if size == "phone":
        assert tops == sorted(tops)
    else:  # side by side, then the advanced options below both
        assert abs(tops[0] - tops[1]) < 2 and tops[1] < tops[2]
    _fits(page, viewport["width"])

    # Every error at once, under its field, in the label's words; nothing charged.
    htmx_settled(page, lambda: page.select_option("#id_algorithm", "random_forest_classifier"))
    page.fill("#id_name", "")
    page.fill("#id_hp_n_estimators", "5000")
    page.locator("summary", has_text="Advanced").click()
    page.fill("#id_test_size", "0.9")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector(".invalid-feedback")
    errors = page.locator(".invalid-feedback").all_inner_texts()
    text = " ".join(errors)
    assert "Model name is required." in text
    assert "N estimators must be between 1 and 2000" in text
    assert "Test size must be from 0.05 to 0.5" in text
    assert page.locator("#id_hp_n_estimators").get_attribute("max") == "2000"
    assert nav_balance(page) == "500.00"
    screenshot(page, f"train-errors-{size}")

    # A long training: the badge and the card agree, the clock runs, Cancel refunds.
    page.fill("#id_name", "slow forest")
    page.fill("#id_hp_n_estimators", "2000")
    page.fill("#id_test_size", "0.2")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/models/*/")
    assert nav_balance(page) == "495.00"
    page.wait_for_selector("#training-clock:has-text('for')")
    page.wait_for_function(
        "document.querySelector('#model-status-badge') && "
        "document.querySelector('#training-progress .badge').innerText === "
        "document.querySelector('#model-status-badge').innerText"
    )
    screenshot(page, f"training-{size}")
    page.locator("#cancel-training").click()
    page.wait_for_selector("#training-ended")
    assert "Training canceled" in page.locator("#training-ended").inner_text()
    assert "canceled" in page.locator("#model-status-badge").inner_text()
    assert nav_balance(page) == "500.00"
    model = TrainedModel.objects.get(name="slow forest")
    assert model.status == "canceled"
    assert balance_for_user(user=alice) == Decimal("500.00")


@pytest.mark.parametrize("size", WIDTHS, ids=list(WIDTHS))
def test_a_one_row_prediction_answers_under_the_form(live, new_page, alice, size):
    model = _model(alice, _dataset(alice))
    viewport = WIDTHS[size]
    page, _ = new_page(**viewport)
    log_in(page, live.url, "alice")
    page.goto(f"{live.url}/predictions/predict/{model.pk}/")
    balance = Decimal(nav_balance(page))

    # Each field says what it takes; "Fill example" puts typical training values in.
    assert "Number," in page.locator("#row-form").inner_text()
    assert "One of 4:" in page.locator("#row-form").inner_text()
    page.get_by_role("button", name="Fill example").click()
    age = page.get_by_label("age", exact=True)
    assert age.input_value() != ""
    page.locator("#row-form").get_by_role("button", name="Predict").click()
    page.wait_for_selector("#answer-value", timeout=60_000)
    first = page.locator("#answer-value").inner_text().strip()
    assert first in {"basic", "premium"}
    assert "with probability" in page.locator("#answer-probability").inner_text()
    assert page.locator(".answer-bar").count() == 2
    assert page.locator("#answer-links").get_by_role("link", name="Prediction #").is_visible()
    assert Decimal(nav_balance(page)) == balance - model.price_per_row
    _fits(page, viewport["width"])
    screenshot(page, f"answer-{size}")

    # What if: change one input and ask again; the rest stayed.
    age_before = age.input_value()
    page.get_by_label("income", exact=True).fill("90000")
    assert page.get_by_label("age", exact=True).input_value() == age_before
    page.locator("#row-form").get_by_role("button", name="Predict").click()
    page.wait_for_function("document.querySelectorAll('#answer-links a')[0].innerText !== ''")
    wait_for(
        lambda: Decimal(nav_balance(page)) == balance - 2 * model.price_per_row,
        timeout=30,
        what="second charge",
    )
    assert page.get_by_label("income", exact=True).input_value() == "90000"

    # Every field empty: refused before charging, in place.
    for index in range(3):
        page.locator(f"[name=row-feature_{index}]").evaluate("field => { field.value = ''; }")
    page.locator("#row-form").get_by_role("button", name="Predict").click()
    page.wait_for_selector("#row-errors")
    assert "Fill in at least one field" in page.locator("#row-errors").inner_text()
    assert Decimal(nav_balance(page)) == balance - 2 * model.price_per_row

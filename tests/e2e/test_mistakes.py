"""Mistakes in the browser: a bad CSV and a bad hyperparameter are explained next to
the field that holds them, and they cost nothing."""

import pytest

from billing.models import LedgerEntry
from mlmodels.models import Dataset, TrainedModel
from tests.e2e.conftest import htmx_settled, log_in, nav_balance, screenshot
from tests.e2e.test_ml_journey import assert_charts_drawn, csv_file, customers_csv, ledger_rows

pytestmark = pytest.mark.e2e


def field_error(page, field_id: str) -> str:
    """The error text shown with a form field: the field is marked invalid and its
    message sits in the same field group, right under it."""
    field = page.locator(f"#{field_id}")
    assert "is-invalid" in (field.get_attribute("class") or ""), f"#{field_id} is not marked invalid"
    feedback = page.locator(f"#div_{field_id} .invalid-feedback")
    assert feedback.is_visible(), f"no message next to #{field_id}"
    field_box, feedback_box = field.bounding_box(), feedback.bounding_box()
    assert 0 <= feedback_box["y"] - (field_box["y"] + field_box["height"]) < 40, (
        "the message is not by the field"
    )
    return feedback.inner_text()


def test_bad_files_and_bad_hyperparameters_are_explained_and_free(live, new_page, alice):
    page, _ = new_page()
    log_in(page, live.url, "alice")
    assert nav_balance(page) == "500.00"

    # A header and nothing else.
    page.goto(live.url + "/datasets/upload/")
    page.set_input_files("#id_file", csv_file("empty.csv", "age,city,income,segment\n"))
    page.locator("#upload-form button[type=submit]").click()
    assert "header but no data rows" in field_error(page, "id_file")
    screenshot(page, "dataset-upload-error")

    # Rows with the wrong number of fields: the message names the line.
    ragged = "age,city,income,segment\n30,Porto,40000,basic\n41,Faro\n52,Braga,61000,premium\n"
    page.set_input_files("#id_file", csv_file("ragged.csv", ragged))
    page.fill("#id_name", "Ragged")
    page.locator("#upload-form button[type=submit]").click()
    message = field_error(page, "id_file")
    assert "line 3 has 2 fields, expected 4" in message, message
    assert page.locator("#id_name").input_value() == "Ragged"
    assert Dataset.objects.count() == 0

    # A good file, then a training request with values out of range.
    page.set_input_files("#id_file", csv_file("customers.csv", customers_csv(60)))
    page.fill("#id_name", "Customers")
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_selector("#column-charts canvas", timeout=120_000)
    assert_charts_drawn(page, 4)
    page.get_by_role("link", name="Train a model").first.click()
    page.fill("#id_name", "Too eager")
    htmx_settled(page, lambda: page.select_option("#id_target", "segment"))
    htmx_settled(page, lambda: page.select_option("#id_algorithm", "logistic_regression"))
    page.fill("#id_hp_C", "-1")
    page.fill("#id_hp_max_iter", "0")
    page.locator("summary", has_text="Advanced").click()
    page.fill("#id_test_size", "0.9")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector(".invalid-feedback")
    assert "/models/train/" in page.url
    c_error = field_error(page, "id_hp_C")
    assert "1e-06" in c_error or "0.000001" in c_error or "at least" in c_error.lower(), c_error
    assert field_error(page, "id_hp_max_iter")
    assert field_error(page, "id_test_size")  # the Advanced section opens to show it
    assert page.locator("#id_hp_C").input_value() == "-1"
    screenshot(page, "train-errors")

    # Nothing was charged and nothing was made.
    assert nav_balance(page) == "500.00"
    assert TrainedModel.objects.count() == 0
    assert list(LedgerEntry.objects.filter(account__user=alice).values_list("kind", flat=True)) == [
        "signup_bonus"
    ]
    page.goto(live.url + "/billing/")
    assert len(ledger_rows(page)) == 1

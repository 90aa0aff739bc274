"""The whole product in a real browser: a newcomer uploads data, looks at it, trains a
model, predicts and pays for it; an operator publishes that model at a new price and
grants coins; a second user predicts with it from the catalog and sees nothing else of
the first user's."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from billing.models import LedgerEntry
from mlmodels import services as model_services
from mlmodels.models import Dataset, TrainedModel
from predictions.models import Prediction
from tests.conftest import PASSWORD
from tests.e2e.conftest import count_requests, htmx_settled, log_in, nav_balance, screenshot, wait_for_text

pytestmark = pytest.mark.e2e

TRAINING_TIMEOUT_MS = 120_000


def customers_csv(rows: int = 120, seed: int = 7) -> str:
    """age (numeric, a few blanks), city (categorical, a few blanks), income (numeric)
    and the target ``segment`` (basic / premium), which depends on income and age, with
    noise (a perfect score would not look like real data in the screenshots)."""
    rng = np.random.RandomState(seed)
    cities = ["Lisbon", "Porto", "Braga", "Faro"]
    lines = ["age,city,income,segment"]
    for number in range(rows):
        age = int(rng.randint(18, 80))
        income = round(float(rng.normal(42_000, 12_000)), 2)
        city = cities[number % len(cities)]
        segment = "premium" if income + age * 300 + rng.normal(0, 6_000) > 55_000 else "basic"
        shown_age = "" if number % 23 == 5 else str(age)
        shown_city = "" if number % 29 == 3 else city
        lines.append(f"{shown_age},{shown_city},{income},{segment}")
    return "\n".join(lines) + "\n"


def scoring_csv(rows: int, seed: int = 11) -> str:
    """Rows to score: the model's columns (one blank age) and a column it ignores."""
    rng = np.random.RandomState(seed)
    lines = ["customer,age,city,income"]
    for number in range(rows):
        age = "" if number == 2 else str(int(rng.randint(18, 80)))
        lines.append(
            f"c{number},{age},{['Lisbon', 'Porto', 'Faro'][number % 3]},{rng.normal(42_000, 12_000):.2f}"
        )
    return "\n".join(lines) + "\n"


def csv_file(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": text.encode()}


def assert_charts_drawn(page, minimum: int) -> None:
    """At least ``minimum`` Chart.js charts exist and every chart canvas has a size."""
    page.wait_for_function(f"window.Chart && Object.keys(Chart.instances).length >= {minimum}")
    sizes = page.eval_on_selector_all(
        "canvas[data-chart]", "canvases => canvases.map(c => [c.clientWidth, c.clientHeight])"
    )
    assert len(sizes) >= minimum
    assert all(width > 0 and height > 0 for width, height in sizes), sizes


def assert_polling_stopped(page, polls: list[str], seconds: float = 3.0) -> None:
    before = len(polls)
    page.wait_for_timeout(seconds * 1000)
    assert len(polls) == before, f"still polling after the job ended: {polls[before:]}"


def nav(page, name: str):
    """A link of the navigation bar."""
    return page.locator("#nav").get_by_role("link", name=name, exact=True)


def ledger_rows(page) -> list[str]:
    return [" ".join(text.split()) for text in page.locator("#ledger tbody tr").all_inner_texts()]


def test_upload_train_predict_publish_and_share(live, new_page, staff, bob, tmp_path):
    carol = newcomer_uploads_trains_and_predicts(live, new_page, tmp_path)
    model = TrainedModel.objects.get(owner__username="carol", name="Segment model")
    private = a_second_private_model(carol, model.dataset_id)
    operator_publishes_and_grants(live, new_page, model)
    second_user_predicts_from_the_catalog(live, new_page, model, private)


# --- a. The newcomer ------------------------------------------------------------------------


def newcomer_uploads_trains_and_predicts(live, new_page, tmp_path):
    page, _ = new_page()
    page.goto(live.url + "/")
    screenshot(page, "home")
    page.get_by_role("link", name="Create an account").click()
    screenshot(page, "register")
    page.fill("#id_username", "carol")
    page.fill("#id_email", "carol@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/dashboard/")
    assert nav_balance(page) == "500.00"
    screenshot(page, "dashboard-new")

    # Upload a CSV with numeric and categorical columns and missing values.
    nav(page, "Datasets").click()
    assert "You have no datasets yet." in page.content()
    page.get_by_role("link", name="Upload a CSV file").click()
    page.set_input_files("#id_file", csv_file("customers.csv", customers_csv()))
    page.fill("#id_name", "Customers")
    screenshot(page, "dataset-upload")
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_url("**/datasets/*/")
    assert "Uploaded “Customers”: 120 rows, 4 columns." in page.content()

    # The profile is computed by the worker; the page reloads itself when it is ready.
    page.wait_for_selector("#column-charts canvas", timeout=TRAINING_TIMEOUT_MS)
    assert_charts_drawn(page, 4)
    columns = {
        row.locator("td").nth(0).inner_text(): row.inner_text()
        for row in page.locator("#columns tbody tr").all()
    }
    assert "numeric" in columns["age"] and "categorical" in columns["city"]
    age_missing = sum(1 for number in range(120) if number % 23 == 5)
    city_missing = sum(1 for number in range(120) if number % 29 == 3)
    assert f"{age_missing} (" in columns["age"] and f"{city_missing} (" in columns["city"]
    assert page.locator("#correlations").is_visible()
    screenshot(page, "dataset-detail")
    dataset = Dataset.objects.get(owner__username="carol")

    # Train with a non-default hyperparameter: the fields follow the chosen algorithm.
    page.get_by_role("link", name="Train a model").first.click()
    page.wait_for_url("**/models/train/**")
    page.fill("#id_name", "Segment model")
    htmx_settled(page, lambda: page.select_option("#id_target", "segment"))
    htmx_settled(page, lambda: page.select_option("#id_algorithm", "logistic_regression"))
    c_field = page.locator("#id_hp_C")
    assert c_field.input_value() == "1.0"
    assert page.locator("label[for=id_hp_C]").inner_text().strip().startswith("C")
    c_field.fill("0.5")
    assert page.locator("#id_name").input_value() == "Segment model"
    assert "Training costs 5.00 coins" in page.locator("#train-fields").inner_text()
    screenshot(page, "train")
    page.get_by_role("button", name="Start training").click()

    # The progress bar follows the job through htmx, then the finished page shows up.
    page.wait_for_url("**/models/*/")
    status_polls = count_requests(page, "/status/")
    assert page.locator("#model-status .progress").is_visible()
    assert "5.00 coins were charged" in page.content()
    assert nav_balance(page) == "495.00"
    model = TrainedModel.objects.get(owner__username="carol", name="Segment model")
    assert model.hyperparameters["C"] == 0.5
    page.wait_for_selector("#metric-cards", timeout=TRAINING_TIMEOUT_MS)
    assert status_polls, "the progress bar never asked for the job's status"
    assert "ready" in page.locator("h1").inner_text()
    assert_polling_stopped(page, status_polls)
    assert page.locator("#confusion-matrix").is_visible()
    assert page.locator("canvas[data-chart=roc]").count() == 1
    assert page.locator("canvas[data-chart=importance]").count() == 1
    assert_charts_drawn(page, 2)
    assert "0.5" in page.locator("#hyperparameters").inner_text()
    screenshot(page, "model-detail")

    # One row through the generated form.
    page.locator("main").get_by_role("link", name="Predict").first.click()
    page.wait_for_url("**/predictions/predict/*/")
    page.get_by_label("age", exact=True).fill("52")
    page.get_by_label("city", exact=True).select_option("Porto")
    page.get_by_label("income", exact=True).fill("61000")
    screenshot(page, "predict")
    page.locator("#row-form").get_by_role("button", name="Predict").click()
    # The answer comes back under the form (htmx), the inputs stay.
    page.wait_for_selector("#answer-value", timeout=60_000)
    assert page.locator("#answer-value").inner_text().strip() in {"basic", "premium"}
    assert page.get_by_label("age", exact=True).input_value() == "52"
    assert nav_balance(page) == "494.99"
    page.locator("#answer-links").get_by_role("link", name="Prediction #").click()
    page.wait_for_url("**/predictions/*/")
    assert "0.01 coins (1 row × 0.01)" in page.locator("#prediction-live").inner_text()
    page.wait_for_selector("#results", timeout=60_000)
    assert page.locator("#results tbody tr").count() == 1
    # The prediction and its probabilities come first.
    assert page.locator("#results thead th").nth(1).inner_text() == "prediction"
    assert page.locator("#results thead th").nth(2).inner_text().startswith("probability_")

    # A CSV file: quoted before sending, scored by the worker, downloaded.
    page.get_by_role("link", name="Predict again").click()
    page.get_by_role("tab", name="CSV file").click()
    page.set_input_files("#id_csv-file", csv_file("to-score.csv", scoring_csv(30)))
    wait_for_text(page, "about 0.30", timeout=10)
    page.get_by_role("button", name="Upload and predict").click()
    page.wait_for_url("**/predictions/*/")
    status_polls = count_requests(page, "/status/")
    assert "0.30 coins (30 rows × 0.01)" in page.locator("#prediction-live").inner_text()
    page.wait_for_selector("#results", timeout=60_000)
    assert_polling_stopped(page, status_polls)
    assert page.locator("#results tbody tr").count() == 30
    # The finished answer also refreshed the navigation's balance (out of band), once.
    assert page.locator("#nav-balance").count() == 1
    assert nav_balance(page) == "494.69"
    screenshot(page, "prediction-detail")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    path = Path(tmp_path) / "result.csv"
    download_info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == [
        "customer",
        "age",
        "city",
        "income",
        "prediction",
        "probability_basic",
        "probability_premium",
    ]
    assert len(rows) == 31
    assert {row[4] for row in rows[1:]} <= {"basic", "premium"}
    assert all(abs(float(row[5]) + float(row[6]) - 1) < 1e-6 for row in rows[1:])

    nav(page, "Predictions").click()
    assert page.locator("#predictions tbody tr").count() == 2
    screenshot(page, "predictions")
    nav(page, "Models").click()
    screenshot(page, "models")
    nav(page, "Datasets").click()
    assert page.locator("#datasets tbody tr").count() == 1
    screenshot(page, "datasets")
    nav(page, "Dashboard").click()
    screenshot(page, "dashboard")

    # The ledger shows each charge with its amount; then a top-up.
    page.locator("#nav-balance").click()
    ledger = ledger_rows(page)
    assert len(ledger) == 4
    assert "Prediction charge" in ledger[0] and "-0.30" in ledger[0]
    assert "Prediction charge" in ledger[1] and "-0.01" in ledger[1]
    assert "Training fee" in ledger[2] and "-5.00" in ledger[2]
    assert "Signup bonus" in ledger[3] and "+500.00" in ledger[3]
    page.fill("#id_amount", "100")
    page.get_by_role("button", name="Add coins").click()
    assert "Added 100.00 coins. Your balance is 594.69." in page.content()
    assert nav_balance(page) == "594.69"
    assert len(ledger_rows(page)) == 5
    screenshot(page, "billing")

    page.get_by_role("button", name="carol").click()
    page.get_by_role("link", name="Profile and API token").click()
    screenshot(page, "profile")
    page.get_by_role("button", name="carol").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    assert "You are logged out." in page.content()

    kinds = list(
        LedgerEntry.objects.filter(account__user__username="carol")
        .order_by("pk")
        .values_list("kind", "amount")
    )
    assert kinds == [
        ("signup_bonus", Decimal("500.00")),
        ("training_fee", Decimal("-5.00")),
        ("prediction_charge", Decimal("-0.01")),
        ("prediction_charge", Decimal("-0.30")),
        ("topup", Decimal("100.00")),
    ]
    assert dataset.owner.username == "carol"
    return dataset.owner


def a_second_private_model(carol, dataset_id: int) -> TrainedModel:
    """A model carol keeps to herself (submitted through the service: the browser part
    of training is proven above)."""
    request = model_services.training_validate(
        user=carol,
        name="Private model",
        dataset=dataset_id,
        target="segment",
        algorithm="logistic_regression",
    )
    return model_services.model_submit(user=carol, request=request)


# --- b. The operator, and a second user ---------------------------------------------------------


def operator_publishes_and_grants(live, new_page, model):
    page, _ = new_page()
    page.goto(live.url + "/admin/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url("**/admin/")
    screenshot(page, "admin")

    page.goto(f"{live.url}/admin/mlmodels/trainedmodel/{model.pk}/change/")
    page.check("#id_is_public")
    page.check("#id_confirm_publish")  # carol's model: the operator confirms publishing it
    page.fill("#id_price_per_row", "0.05")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/mlmodels/trainedmodel/")
    assert "was changed successfully" in page.content()
    screenshot(page, "admin-models")
    model.refresh_from_db()
    assert model.is_public and model.price_per_row == Decimal("0.05")

    page.goto(live.url + "/admin/accounts/user/")
    page.locator("#result_list tr", has=page.get_by_role("link", name="bob", exact=True)).locator(
        "input.action-select"
    ).check()
    page.select_option("select[name=action]", "grant_coins")
    page.locator("button[name=index]").click()
    page.fill("#id_amount", "50")
    page.fill("#id_memo", "Welcome to the catalog")
    page.get_by_role("button", name="Grant coins").click()
    wait_for_text(page, "Granted 50 coins to 1 user(s).", timeout=10)
    screenshot(page, "admin-users")

    page.goto(live.url + "/admin/operations/")
    page.wait_for_load_state("networkidle")
    screenshot(page, "admin-operations")


def second_user_predicts_from_the_catalog(live, new_page, model, private):
    carol_prediction = Prediction.objects.filter(owner__username="carol").first()
    others = [
        f"/datasets/{model.dataset_id}/",
        f"/models/{private.pk}/",
        f"/predictions/{carol_prediction.pk}/",
        f"/predictions/{carol_prediction.pk}/download/",
        f"/predictions/predict/{private.pk}/",
    ]
    page, _ = new_page(allowed_failures=tuple(others))
    log_in(page, live.url, "bob")
    assert nav_balance(page) == "550.00"

    # The catalog lists the published model, not carol's private one.
    nav(page, "Models").click()
    catalog = page.locator("#models tbody").inner_text()
    assert "Segment model" in catalog and "Private model" not in catalog
    row = page.locator("#models tbody tr", has_text="Segment model")
    assert "public" in row.inner_text() and "0.05" in row.inner_text()
    screenshot(page, "catalog")
    row.get_by_role("link", name="Segment model").click()
    page.locator("main").get_by_role("link", name="Predict").first.click()
    assert "0.05 per row" in page.locator("#price-per-row").inner_text()
    page.get_by_role("tab", name="CSV file").click()
    page.set_input_files("#id_csv-file", csv_file("mine.csv", scoring_csv(7, seed=3)))
    wait_for_text(page, "about 0.35", timeout=10)
    page.get_by_role("button", name="Upload and predict").click()
    page.wait_for_url("**/predictions/*/")
    assert "0.35 coins (7 rows × 0.05)" in page.locator("#prediction-live").inner_text()
    page.wait_for_selector("#results", timeout=60_000)
    assert nav_balance(page) == "549.65"

    # Nothing else of carol's: lists don't show it, its addresses are 404.
    nav(page, "Datasets").click()
    assert "You have no datasets yet." in page.content()
    nav(page, "Predictions").click()
    assert page.locator("#predictions tbody tr").count() == 1
    for path in others:
        response = page.goto(live.url + path)
        assert response.status == 404, path
    page.goto(live.url + "/billing/")
    ledger = ledger_rows(page)
    assert "Prediction charge" in ledger[0] and "-0.35" in ledger[0]
    assert "Grant" in ledger[1] and "+50.00" in ledger[1]

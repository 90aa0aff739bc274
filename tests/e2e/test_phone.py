"""Every main page at a phone's width (390 px): nothing scrolls sideways, the balance
stays in sight, the menu opens from the toggler, long lists are paginated."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.selectors import balance_for_user
from billing.services import account_topup
from mlmodels import services as model_services
from mlmodels.models import Dataset, TrainedModel
from predictions import services as prediction_services
from predictions.models import Prediction
from tests.conftest import wait_for
from tests.e2e.conftest import log_in, nav_balance, screenshot
from tests.e2e.test_ml_journey import customers_csv

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def seed(user) -> tuple[Dataset, TrainedModel, Prediction]:
    """A dataset, a trained model and a finished prediction, made through the services
    and the real worker (the browser journey itself is proven elsewhere)."""
    upload = SimpleUploadedFile(
        "customers_with_a_long_file_name_that_must_wrap_on_a_phone.csv",
        customers_csv().encode(),
        content_type="text/csv",
    )
    dataset = model_services.dataset_upload(
        user=user, file=upload, name="Customers of the north-west region, 2024"
    )
    wait_for(lambda: Dataset.objects.get(pk=dataset.pk).status == "ready", timeout=60, what="the profile")
    request = model_services.training_validate(
        user=user,
        name="Segment forest",
        dataset=dataset.pk,
        target="segment",
        algorithm="random_forest_classifier",
        hyperparameters={"n_estimators": 25},
    )
    model = model_services.model_submit(user=user, request=request)
    wait_for(lambda: TrainedModel.objects.get(pk=model.pk).status == "ready", timeout=120, what="training")
    rows = [{"age": 30 + n, "city": "Porto", "income": 40_000 + 1_000 * n} for n in range(5)]
    prediction = prediction_services.prediction_submit(user=user, model_id=model.pk, inputs=rows).prediction
    wait_for(
        lambda: Prediction.objects.get(pk=prediction.pk).status == "succeeded", timeout=60, what="scoring"
    )
    # Enough ledger entries for a second page.
    for _ in range(20):
        account_topup(user=user, amount="1.25")
    return dataset, model, prediction


def assert_fits(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width}px wide at a {PHONE['width']}px viewport ({page.url})"


UNLABELLED_FIELDS = """() => Array.from(document.querySelectorAll("main input, main select, main textarea"))
  .filter(field => field.type !== "hidden" && field.type !== "submit")
  .filter(field => !(field.labels && field.labels.length) && !field.getAttribute("aria-label")
    && !field.getAttribute("aria-labelledby"))
  .map(field => field.name || field.id || field.outerHTML.slice(0, 80))"""


def assert_fields_labelled(page, name: str) -> None:
    unlabelled = page.evaluate(UNLABELLED_FIELDS)
    assert not unlabelled, f"fields without a label on {name}: {unlabelled}"


def test_main_pages_fit_a_phone(live, new_page, alice):
    dataset, model, prediction = seed(alice)
    page, _ = new_page(**PHONE)

    for path, name in [("/", "home"), ("/accounts/login/", "login"), ("/accounts/register/", "register")]:
        page.goto(live.url + path)
        assert_fits(page, name)
        assert_fields_labelled(page, name)
    screenshot(page, "phone-register")

    log_in(page, live.url, "alice")
    # The balance and the account menu stay in sight; the page links fold behind the toggler.
    assert page.locator("#nav-balance").is_visible()
    toggler, balance = (
        page.get_by_label("Toggle navigation").bounding_box(),
        page.locator("#nav-balance").bounding_box(),
    )
    assert abs(toggler["y"] + toggler["height"] / 2 - (balance["y"] + balance["height"] / 2)) < 8, (
        "navbar wraps"
    )
    assert nav_balance(page) == f"{balance_for_user(user=alice):.2f}" == "519.95"
    assert not page.locator("#nav").get_by_role("link", name="Billing").is_visible()
    page.get_by_label("Toggle navigation").click()
    page.locator("#nav").get_by_role("link", name="Models").click()
    page.wait_for_url("**/models/")
    assert_fits(page, "models")

    pages = [
        ("/dashboard/", "dashboard"),
        ("/datasets/", "datasets"),
        (f"/datasets/{dataset.pk}/", "dataset-detail"),
        ("/datasets/upload/", "dataset-upload"),
        (f"/models/train/?dataset={dataset.pk}&target=segment&algorithm=random_forest_classifier", "train"),
        (f"/models/{model.pk}/", "model-detail"),
        (f"/predictions/predict/{model.pk}/", "predict"),
        (f"/predictions/{prediction.pk}/", "prediction-detail"),
        ("/predictions/", "predictions"),
        ("/billing/", "billing"),
        ("/accounts/profile/", "profile"),
    ]
    for path, name in pages:
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        assert_fits(page, name)
        assert_fields_labelled(page, name)
        if name in ("dashboard", "model-detail", "prediction-detail", "billing"):
            screenshot(page, f"phone-{name}")

    # The ledger is paginated: 23 entries, 20 a page.
    page.goto(live.url + "/billing/")
    assert page.locator("#ledger tbody tr").count() == 20
    assert "Page 1 of 2" in page.locator(".pagination").inner_text()
    page.get_by_role("link", name="Next").click()
    assert page.locator("#ledger tbody tr").count() == 3
    assert "Signup bonus" in page.locator("#ledger tbody tr").last.inner_text()
    assert_fits(page, "billing page 2")

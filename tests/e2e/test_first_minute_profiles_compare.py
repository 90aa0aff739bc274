"""Issue 15, items 4, 6 and 7 in Chromium at desktop (1366 px) and phone (390 px)
width: a visitor's preview of a public model, a new user's one-click sample dataset
and its profile alerts, a public model page that explains itself and tries its
example, the threshold slider, the baseline, and two models compared side by side."""

from __future__ import annotations

import pytest

from mlmodels import services
from mlmodels.models import Dataset
from tests.conftest import wait_for
from tests.e2e.conftest import log_in, screenshot

pytestmark = pytest.mark.e2e

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def publish_breast_cancer_models(staff):
    """Two public models of the demo's breast-cancer table (trained here, in-process,
    as seed_demo does)."""
    dataset = services.dataset_upload_sample(
        user=staff, key="breast_cancer", name="Breast cancer (demo)", enqueue_profile=False
    )
    dataset = services.dataset_profile(dataset_id=dataset.pk)
    models = []
    for name, algorithm, hyperparameters in (
        ("cancer-logistic", "logistic_regression", {"C": 1.0}),
        ("cancer-forest", "random_forest_classifier", {"n_estimators": 20}),
    ):
        request = services.training_validate(
            user=staff,
            name=name,
            dataset=dataset.pk,
            target="diagnosis",
            algorithm=algorithm,
            hyperparameters=hyperparameters,
        )
        model = services.model_submit(user=staff, request=request, charge=False, enqueue=False)
        services.training_claim(model_id=model.pk)
        model = services.training_execute(model_id=model.pk)
        assert model.status == "ready", model.error
        models.append(services.model_update_by_staff(model=model, is_public=True))
    return models


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size", list(WIDTHS))
def test_the_first_minute_profiles_and_comparing_models(live, new_page, alice, staff, size):
    logistic, forest = publish_breast_cancer_models(staff)
    page, _ = new_page(**WIDTHS[size])

    # A visitor: one public model, read-only, with an example row.
    page.goto(live.url + "/")
    preview = page.locator("#demo-model")
    assert "Try it: cancer-" in preview.inner_text()
    assert "Predicts diagnosis — one of 2 classes (benign, malignant)" in preview.inner_text()
    assert preview.locator("fieldset[disabled] input").first.input_value() != ""
    assert "predictions need an account" in preview.inner_text()
    assert fits(page)
    screenshot(page, f"p15b-{size}-home")

    # A new user adds a sample in one click; its profile lists alerts.
    log_in(page, live.url, "alice")
    assert page.locator("#public-models").get_by_text("cancer-logistic").is_visible()
    page.locator("#sample-datasets").get_by_role("button", name="Iris flowers").click()
    page.wait_for_url("**/datasets/*/")
    dataset = Dataset.objects.get(owner=alice)
    wait_for(lambda: Dataset.objects.get(pk=dataset.pk).status == "ready", timeout=60, what="the profile")
    page.reload()
    alerts = page.locator("#profile-alerts")
    assert "petal_length_cm and petal_width_cm are highly correlated" in alerts.inner_text()
    assert page.locator('canvas[data-chart="column"]').count() == 5
    assert fits(page)
    screenshot(page, f"p15b-{size}-dataset-profile")

    # A public model page: what it predicts, what inputs mean, the baseline, the slider.
    page.goto(f"{live.url}/models/{logistic.pk}/")
    assert "Predicts diagnosis" in page.locator("#model-summary").inner_text()
    assert page.get_by_text("Mean radius of the cell nuclei (µm) in the biopsy image.").is_visible()
    assert "baseline 0.6" in page.locator("#baseline").inner_text()
    recall_at_half = page.locator('#threshold-figures [data-threshold="recall"]').inner_text()
    assert recall_at_half != "—"
    page.locator("#threshold").fill("0.99")
    assert page.locator("#threshold-value").inner_text() == "0.99"
    assert page.locator('#threshold-figures [data-threshold="recall"]').inner_text() != recall_at_half
    assert fits(page)
    screenshot(page, f"p15b-{size}-model")

    # One click tries the example row (a paid one-row prediction).
    page.locator("#try-example").get_by_role("button", name="Try the example").click()
    page.wait_for_url("**/predictions/*/")
    assert "Prediction #" in page.content()

    # The models list: one dataset and target, sorted by a classification metric; compare.
    page.goto(f"{live.url}/models/?dataset={logistic.dataset_id}&target=diagnosis&sort=roc_auc")
    assert "Ready classification models only" in page.locator("#sort-note").inner_text()
    page.get_by_label(f"Compare {logistic}").check()
    page.get_by_label(f"Compare {forest}").check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url("**/models/compare/**")
    table = page.locator("#compare-metrics")
    assert "Majority-class baseline" in table.inner_text() and "ROC AUC" in table.inner_text()
    assert page.locator('canvas[data-chart="roc-compare"]').is_visible()
    assert page.locator('canvas[data-chart="importance-compare"]').is_visible()
    assert fits(page)
    screenshot(page, f"p15b-{size}-compare")

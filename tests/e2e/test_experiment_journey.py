"""Finding the best model in a real browser, with a real worker running the search:
upload a CSV, "Find the best model", watch the leaderboard fill, open the winner,
promote another trial (a paid training) and predict with the winner; then every
experiment page at a phone's width."""

from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from mlmodels.models import Experiment, ExperimentTrial, TrainedModel
from tests.e2e.conftest import count_requests, htmx_settled, log_in, nav_balance, screenshot
from tests.e2e.test_ml_journey import assert_polling_stopped, csv_file, customers_csv
from tests.e2e.test_phone import assert_fields_labelled

pytestmark = pytest.mark.e2e

SEARCH_TIMEOUT_MS = 180_000
PHONE = {"width": 375, "height": 812}


def test_find_the_best_model_promote_a_trial_and_predict(live, new_page, alice):
    page, _ = new_page()
    log_in(page, live.url, "alice")
    assert nav_balance(page) == "500.00"

    # Upload; the dataset page offers the search once the profile is ready.
    page.locator("#nav").get_by_role("link", name="Datasets").click()
    page.get_by_role("link", name="Upload a CSV file").click()
    page.set_input_files("#id_file", csv_file("customers.csv", customers_csv()))
    page.fill("#id_name", "Customers")
    page.locator("#upload-form button[type=submit]").click()
    page.wait_for_url("**/datasets/*/")
    page.wait_for_selector("#column-charts canvas", timeout=SEARCH_TIMEOUT_MS)
    page.get_by_role("link", name="Find the best model").click()
    page.wait_for_url("**/experiments/new/?dataset=*")

    # The form: the dataset chosen, every algorithm checked, the cost of the cap.
    assert page.locator("#id_dataset option:checked").inner_text() == "Customers"
    boxes = page.locator("#algorithm-choices input[type=checkbox]")
    assert boxes.count() >= 2 and all(box.is_checked() for box in boxes.all())
    assert "× 30 trials = 150.00 coins" in page.locator("#experiment-cost").inner_text()
    page.select_option("#id_target", "segment")
    page.fill("#id_name", "Segment finder")
    # Three quick classifiers; the regression group left whole is ignored.
    for key in ("svc", "gradient_boosting_classifier", "catboost_classifier"):
        page.locator(f"#algorithm-choices input[value={key}]").uncheck()
    page.fill("#id_max_trials", "4")
    assert "× 4 trials = 20.00 coins" in page.locator("#experiment-cost").inner_text()
    page.fill("#id_time_budget_seconds", "120")
    page.locator("summary", has_text="Advanced").click()
    page.fill("#id_cv_folds", "2")
    screenshot(page, "experiment-new")
    page.get_by_role("button", name="Start the search").click()

    # The live page: progress, then the leaderboard and the winner.
    page.wait_for_url("**/experiments/*/")
    polls = count_requests(page, "/status/")
    assert "up to 4 trials; 20.00 coins were charged" in page.content()
    assert nav_balance(page) == "480.00"
    experiment = Experiment.objects.get(owner=alice)
    assert sorted(experiment.algorithms) == ["logistic_regression", "random_forest_classifier"]
    assert page.locator("#experiment-chart").is_visible()
    page.wait_for_selector("#winner", timeout=SEARCH_TIMEOUT_MS)
    assert polls, "the page never asked for the experiment's status"
    assert_polling_stopped(page, polls)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.error
    rows = page.locator("#leaderboard tbody tr")
    assert (
        rows.count()
        == experiment.trials_done
        == ExperimentTrial.objects.filter(experiment=experiment).count()
    )
    assert f"#{experiment.best_trial}" in rows.first.inner_text()
    page.wait_for_function("window.Chart && Object.keys(Chart.instances).length >= 1")
    refunded = Decimal(page.locator("#experiment-refunded").inner_text().split()[0])
    assert refunded == experiment.price_per_trial * experiment.trials_not_run
    screenshot(page, "experiment-detail")

    # The winner's page: holdout metrics, the cross-validated figures beside them.
    page.locator("#winner").get_by_role("link", name="Its holdout metrics").click()
    page.wait_for_url("**/models/*/")
    winner = experiment.best_model
    assert "CV " in page.locator("#metric-cards").inner_text()
    assert winner.metrics_source in page.locator("#metrics-source").inner_text()
    assert page.locator("#experiment-link").is_visible()
    page.go_back()

    # Predict one row with the winner.
    page.locator("#winner").get_by_role("link", name="Predict with it").click()
    page.wait_for_url(f"**/predictions/predict/{winner.pk}/")
    page.get_by_label("age", exact=True).fill("52")
    page.get_by_label("city", exact=True).select_option("Porto")
    page.get_by_label("income", exact=True).fill("61000")
    page.locator("#row-form").get_by_role("button", name="Predict").click()
    # The answer comes back under the form; its job page has the results table.
    page.wait_for_selector("#answer-value", timeout=60_000)
    page.locator("#answer-links").get_by_role("link", name="Prediction #").click()
    page.wait_for_url("**/predictions/*/")
    page.wait_for_selector("#results", timeout=60_000)
    assert page.locator("#results tbody tr").count() == 1

    # Promote another complete trial: a paid training at its algorithm's price.
    page.goto(f"{live.url}/experiments/{experiment.pk}/")
    balance = Decimal(nav_balance(page))
    other = page.locator("#leaderboard tbody tr", has=page.get_by_role("button", name="Promote")).nth(1)
    trial_number = int(other.get_attribute("data-trial"))
    other.get_by_role("button", name="Promote").click()
    page.wait_for_url("**/models/*/")
    promoted = TrainedModel.objects.get(experiment=experiment, experiment_trial=trial_number)
    assert f"Training trial {trial_number} as “{promoted}” has started" in page.content()
    assert Decimal(nav_balance(page)) == balance - promoted.training_fee
    page.wait_for_selector("#metric-cards", timeout=SEARCH_TIMEOUT_MS)
    promoted.refresh_from_db()
    assert promoted.status == "ready" and promoted.version == winner.version + 1

    # The promoted trial is the newest version: predictions move to it, and the
    # winner's card says so.
    page.goto(f"{live.url}/experiments/{experiment.pk}/")
    assert page.locator("#winner-not-active").is_visible()
    assert page.locator("#winner").get_by_role("link", name=f"Predict with {promoted}").is_visible()

    # One charge for the trial cap, the trials not run refunded, one fee: the promoted
    # trial's (the winner's training is the experiment's).
    entries = LedgerEntry.objects.filter(account__user=alice)
    assert entries.get(kind="experiment_charge").amount == Decimal("-20.00")
    assert sum(entry.amount for entry in entries.filter(kind="refund")) == refunded
    assert [entry.amount for entry in entries.filter(kind="training_fee")] == [-promoted.training_fee]

    every_experiment_page_fits_a_phone(live, new_page, experiment)


def assert_fits(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width}px wide at a {PHONE['width']}px viewport ({page.url})"


def every_experiment_page_fits_a_phone(live, new_page, experiment):
    page, _ = new_page(**PHONE)
    log_in(page, live.url, "alice")
    page.get_by_label("Toggle navigation").click()
    page.locator("#nav").get_by_role("link", name="Experiments").click()
    page.wait_for_url("**/experiments/")
    for path, name in [
        ("/experiments/", "experiment-list"),
        (f"/experiments/new/?dataset={experiment.dataset_id}", "experiment-new"),
        (f"/experiments/{experiment.pk}/", "experiment-detail"),
        (f"/models/{experiment.best_model_id}/", "experiment-winner"),
    ]:
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        assert_fits(page, name)
        assert_fields_labelled(page, name)
        screenshot(page, f"phone-{name}")
    # The wide leaderboard scrolls inside its own box.
    page.goto(f"{live.url}/experiments/{experiment.pk}/")
    box = page.locator("#leaderboard").evaluate("table => [table.parentElement.className, table.scrollWidth]")
    assert "table-responsive" in box[0] and box[1] > PHONE["width"]
    # Changing the dataset re-renders the form (htmx) at this width too.
    page.goto(f"{live.url}/experiments/new/")
    htmx_settled(page, lambda: page.select_option("#id_dataset", str(experiment.dataset_id)))
    assert page.locator("#id_target option").count() == 5
    assert_fits(page, "experiment-new (re-rendered)")

"""POST experiments/: every check before any charge, the charge for the trial cap, 402,
idempotency, 404 for others; cancel and promote."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.audit import billing_audit
from billing.models import LedgerEntry
from mlmodels.models import Algorithm, Experiment, ExperimentSettings, TrainedModel
from tests.mlmodels.conftest import FEE, balance_of, ledger_kinds

URL = "/api/v1/experiments/"
START = Decimal("500.00")


@pytest.fixture
def body(dataset):
    def make(**changes):
        data = {"dataset": dataset.pk, "target": "label", "max_trials": 4, "cv_folds": 2}
        data.update(changes)
        return {key: value for key, value in data.items() if value is not None}

    return make


def assert_nothing_charged(user):
    assert Experiment.objects.count() == 0
    assert balance_of(user) == START
    assert ledger_kinds(user) == ["signup_bonus"]


def test_it_queues_the_experiment_and_charges_price_per_trial_times_the_cap(alice_api, alice, body, dataset):
    response = alice_api.post(URL, body(), format="json")

    assert response.status_code == 202, response.json()
    answer = response.json()
    assert answer["status"] == "queued"
    # Default price per trial: the cheapest enabled algorithm's training price.
    assert answer["price_per_trial"] == str(FEE)
    assert answer["cost"] == str(FEE * 4)
    assert answer["task"] == "classification"
    assert answer["metric"] == "roc_auc"
    assert answer["greater_is_better"] is True
    assert answer["max_trials"] == 4 and answer["cv_folds"] == 2
    # Every enabled classification algorithm, none of the regression ones.
    enabled = set(Algorithm.objects.filter(task="classification", enabled=True).values_list("key", flat=True))
    assert set(answer["algorithms"]) == enabled
    assert answer["leaderboard"] == []
    assert balance_of(alice) == START - FEE * 4
    charge = LedgerEntry.objects.get(kind="experiment_charge")
    assert (charge.experiment_id, charge.amount) == (answer["id"], -FEE * 4)


def test_the_operator_price_per_trial_is_used(alice_api, alice, body):
    ExperimentSettings.objects.create(price_per_trial=Decimal("0.25"))
    response = alice_api.post(URL, body(max_trials=10), format="json")
    assert response.status_code == 202
    assert response.json()["cost"] == "2.50"
    assert balance_of(alice) == START - Decimal("2.50")


def test_a_regression_target_gets_regression_algorithms_and_rmse(alice_api, regression_dataset):
    response = alice_api.post(
        URL, {"dataset": regression_dataset.pk, "target": "price", "max_trials": 2}, format="json"
    )
    assert response.status_code == 202, response.json()
    answer = response.json()
    assert (answer["task"], answer["metric"], answer["greater_is_better"]) == ("regression", "rmse", False)
    assert set(answer["algorithms"]) <= set(
        Algorithm.objects.filter(task="regression").values_list("key", flat=True)
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (
            {"algorithms": ["gradient_descent_9000"]},
            "algorithms",
            "Unknown algorithm 'gradient_descent_9000'",
        ),
        ({"algorithms": ["ridge"]}, "algorithms", "suits classification"),
        ({"algorithms": ["ridge", "svc"]}, "algorithms", "not both"),
        ({"algorithms": []}, "algorithms", "at least one"),
        ({"max_trials": 0}, "max_trials", "500"),
        ({"max_trials": 10_000}, "max_trials", "500"),
        ({"cv_folds": 1}, "cv_folds", "10"),
        ({"cv_folds": 11}, "cv_folds", "10"),
        ({"metric": "rmse"}, "metric", "roc_auc"),
        ({"target": None}, "target", "required"),
        ({"target": "nope"}, "target", "no column 'nope'"),
        ({"time_budget_seconds": 0}, "time_budget_seconds", ""),
        ({"time_budget_seconds": 999_999}, "time_budget_seconds", ""),
        ({"surprise": 1}, "surprise", ""),
    ],
)
def test_bad_requests_are_400_naming_the_field_and_charge_nothing(
    alice_api, alice, body, changes, field, words
):
    response = alice_api.post(URL, body(**changes), format="json")

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors, errors
    assert words.lower() in " ".join(errors[field]).lower()
    assert_nothing_charged(alice)


def test_a_disabled_algorithm_is_refused(alice_api, alice, body):
    Algorithm.objects.filter(key="svc").update(enabled=False)
    response = alice_api.post(URL, body(algorithms=["svc"]), format="json")
    assert response.status_code == 400
    assert "disabled" in response.json()["errors"]["algorithms"][0]
    # Left out by default.
    response = alice_api.post(URL, body(), format="json")
    assert "svc" not in response.json()["algorithms"]


def test_not_enough_coins_is_402_and_writes_nothing(alice_api, alice, body):
    response = alice_api.post(URL, body(max_trials=500), format="json")
    assert response.status_code == 402
    assert response.json()["cost"] == str(FEE * 500)
    assert_nothing_charged(alice)


def test_another_users_dataset_or_experiment_is_a_404(alice_api, bob_api, bob, body):
    response = bob_api.post(URL, body(), format="json")
    assert response.status_code == 400 and "dataset" in response.json()["errors"]

    experiment_id = alice_api.post(URL, body(), format="json").json()["id"]
    assert bob_api.get(f"{URL}{experiment_id}/").status_code == 404
    assert bob_api.post(f"{URL}{experiment_id}/cancel/").status_code == 404
    assert bob_api.post(f"{URL}{experiment_id}/promote/", {"trial": 0}, format="json").status_code == 404
    assert bob_api.get(URL).json()["results"] == []
    assert Experiment.objects.get(pk=experiment_id).status == "queued"


def test_a_retry_with_the_same_idempotency_key_is_charged_once(alice_api, alice, body):
    first = alice_api.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="find-1")
    again = alice_api.post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="find-1")
    other = alice_api.post(URL, body(max_trials=5), format="json", HTTP_IDEMPOTENCY_KEY="find-1")

    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 409)
    assert again.json()["id"] == first.json()["id"]
    assert Experiment.objects.count() == 1
    assert balance_of(alice) == START - FEE * 4


def test_cancel_while_queued_refunds_everything_once(alice_api, alice, body):
    experiment_id = alice_api.post(URL, body(), format="json").json()["id"]

    response = alice_api.post(f"{URL}{experiment_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["refunded"] == str(FEE * 4)
    assert alice_api.post(f"{URL}{experiment_id}/cancel/").status_code == 409
    assert balance_of(alice) == START
    assert ledger_kinds(alice) == ["signup_bonus", "experiment_charge", "refund"]
    assert billing_audit() == []


def test_promote_needs_a_complete_trial(alice_api, body):
    experiment_id = alice_api.post(URL, body(), format="json").json()["id"]
    response = alice_api.post(f"{URL}{experiment_id}/promote/", {"trial": 3}, format="json")
    assert response.status_code == 400
    assert "trial" in response.json()["errors"]
    assert TrainedModel.objects.count() == 0

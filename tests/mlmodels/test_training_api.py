"""POST models/: every check before any charge, the charge itself, 402, idempotency,
versions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from mlmodels import services
from mlmodels.models import Algorithm, Dataset, TrainedModel
from tests.mlmodels.conftest import FEE, balance_of, ledger_kinds, regression_csv

URL = "/api/v1/models/"


def assert_nothing_written(user):
    assert TrainedModel.objects.count() == 0
    assert balance_of(user) == Decimal("500.00")
    assert ledger_kinds(user) == ["signup_bonus"]


def test_it_queues_the_model_and_charges_the_training_price(alice_api, alice, train_body, dataset):
    response = alice_api.post(URL, train_body(), format="json")

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["version"] == 1
    assert body["algorithm"] == "logistic_regression"
    assert body["task"] == "classification"
    assert body["owner"] == "alice"
    assert body["training_fee"] == "5.00"
    assert body["hyperparameters"]["C"] == 1.0
    assert body["hyperparameters"]["penalty"] == "l2"  # defaults filled in
    model = TrainedModel.objects.get(pk=body["id"])
    assert (model.dataset, model.target, model.status, model.is_active) == (dataset, "label", "queued", False)
    assert model.attempts == 1 and model.enqueued_at is not None
    assert balance_of(alice) == Decimal("500.00") - FEE
    fee = LedgerEntry.objects.get(kind="training_fee")
    assert (fee.model, fee.amount) == (model, -FEE)


def test_it_enqueues_the_task_only_when_the_transaction_commits(
    alice_api, train_body, django_capture_on_commit_callbacks
):
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()  # the ORM broker or Redis, whichever is configured
    broker.purge_queue()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = alice_api.post(URL, train_body(), format="json")

    assert response.status_code == 202
    assert len(callbacks) == 1
    queued = [SignedPackage.loads(payload) for _, payload in broker.dequeue() or []]
    assert [(task["func"], task["args"]) for task in queued] == [
        ("mlmodels.tasks.train_model_task", (response.json()["id"],))
    ]
    # The worker that claims the job records the task it runs.
    assert services.training_claim(model_id=response.json()["id"], task_id=queued[0]["id"])
    assert TrainedModel.objects.get().task_id == queued[0]["id"]


def _invalid_cases():
    return [
        ("no name", {"name": ""}, "name"),
        ("no such dataset", {"dataset": 999999}, "dataset"),
        ("unknown target", {"target": "nope"}, "target"),
        ("unknown algorithm", {"algorithm": "deep_magic"}, "algorithm"),
        ("bad C", {"hyperparameters": {"C": -1}}, "hyperparameters.C"),
        ("C as text", {"hyperparameters": {"C": "big"}}, "hyperparameters.C"),
        ("unknown hyperparameter", {"hyperparameters": {"gamma": 1}}, "hyperparameters.gamma"),
        (
            "penalty/solver",
            {"hyperparameters": {"penalty": "l1", "solver": "lbfgs"}},
            "hyperparameters.penalty",
        ),
        ("test size", {"test_size": 0.9}, "test_size"),
        ("seed", {"random_state": -5}, "random_state"),
        ("feature is target", {"features": ["x", "label"]}, "features"),
        ("unknown feature", {"features": ["x", "height"]}, "features"),
        ("no features", {"features": []}, "features"),
        ("unknown field", {"epochs": 3}, "epochs"),
        ("hyperparameters not an object", {"hyperparameters": [1, 2]}, "hyperparameters"),
    ]


@pytest.mark.parametrize(
    ("case", "changes", "field"), _invalid_cases(), ids=[case[0] for case in _invalid_cases()]
)
def test_each_bad_request_is_a_400_naming_the_field_and_writes_nothing(
    alice_api, alice, train_body, case, changes, field
):
    response = alice_api.post(URL, train_body(**changes), format="json")

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert field in errors, errors
    assert all(isinstance(message, str) and message for message in errors[field])
    assert_nothing_written(alice)


def test_errors_are_reported_together(alice_api, alice, train_body):
    response = alice_api.post(
        URL, train_body(hyperparameters={"C": 0, "max_iter": 0}, test_size=0.01), format="json"
    )

    assert response.status_code == 400
    assert {"hyperparameters.C", "hyperparameters.max_iter", "test_size"} <= set(response.json()["errors"])
    assert_nothing_written(alice)


def test_someone_elses_dataset_is_not_found(bob_api, bob, train_body):
    response = bob_api.post(URL, train_body(), format="json")

    assert response.status_code == 400
    assert "no dataset" in response.json()["errors"]["dataset"][0]
    assert_nothing_written(bob)


def test_a_dataset_still_profiling_is_accepted_and_trains(alice_api, alice, train_body, dataset):
    # An API script uploads and trains at once: the profile is not needed to train.
    Dataset.objects.filter(pk=dataset.pk).update(status="profiling")

    response = alice_api.post(URL, train_body(), format="json")

    assert response.status_code == 202, response.json()
    model = TrainedModel.objects.get(pk=response.json()["id"])
    assert LedgerEntry.objects.filter(model=model, kind="training_fee").count() == 1
    assert services.training_claim(model_id=model.pk)
    assert services.training_execute(model_id=model.pk).status == "ready"


def test_a_disabled_algorithm_is_refused(alice_api, alice, train_body):
    Algorithm.objects.filter(key="logistic_regression").update(enabled=False)

    response = alice_api.post(URL, train_body(), format="json")

    assert response.status_code == 400
    assert "disabled" in response.json()["errors"]["algorithm"][0]
    assert_nothing_written(alice)


def test_an_algorithm_of_the_wrong_task_is_a_400_that_says_so(alice_api, alice, train_body):
    response = alice_api.post(URL, train_body(algorithm="ridge", hyperparameters={}), format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "numeric" in errors["target"][0]
    assert "regression algorithm" in errors["algorithm"][0]
    assert "choose a classification algorithm" in errors["algorithm"][0]
    assert_nothing_written(alice)


def test_a_classifier_on_a_continuous_target_is_told_to_use_regression(alice_api, alice, make_dataset):
    houses = make_dataset(alice, regression_csv(), "houses")
    body = {"name": "p", "dataset": houses.pk, "target": "price", "algorithm": "random_forest_classifier"}

    response = alice_api.post(URL, body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "target" in errors
    assert "choose a regression algorithm" in errors["algorithm"][0]
    assert_nothing_written(alice)


def test_a_class_with_a_single_row_is_refused(alice_api, alice, make_dataset):
    content = "x,label\n" + "".join(f"{n},{'a' if n % 2 else 'b'}\n" for n in range(20)) + "99,c\n"
    lonely = make_dataset(alice, content, "lonely")

    response = alice_api.post(
        URL,
        {"name": "m", "dataset": lonely.pk, "target": "label", "algorithm": "logistic_regression"},
        format="json",
    )

    assert response.status_code == 400
    assert "only 1 row" in response.json()["errors"]["target"][0]
    assert_nothing_written(alice)


def test_not_enough_coins_is_a_402_with_balance_and_cost_and_writes_nothing(alice_api, alice, train_body):
    Algorithm.objects.filter(key="logistic_regression").update(training_price=Decimal("600.00"))

    response = alice_api.post(URL, train_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-402")

    assert response.status_code == 402
    body = response.json()
    assert (body["balance"], body["cost"]) == ("500.00", "600.00")
    assert_nothing_written(alice)


def test_a_free_algorithm_writes_no_ledger_entry(alice_api, alice, train_body):
    Algorithm.objects.filter(key="logistic_regression").update(training_price=Decimal("0"))

    response = alice_api.post(URL, train_body(), format="json")

    assert response.status_code == 202
    assert response.json()["training_fee"] == "0.00"
    assert ledger_kinds(alice) == ["signup_bonus"]


def test_a_retry_with_the_same_key_charges_once_and_another_body_is_409(alice_api, alice, train_body):
    first = alice_api.post(URL, train_body(), format="json", HTTP_IDEMPOTENCY_KEY="train-1")
    again = alice_api.post(URL, train_body(), format="json", HTTP_IDEMPOTENCY_KEY="train-1")
    other = alice_api.post(URL, train_body(name="other"), format="json", HTTP_IDEMPOTENCY_KEY="train-1")

    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 409)
    assert again.json() == first.json()
    assert TrainedModel.objects.count() == 1
    assert balance_of(alice) == Decimal("500.00") - FEE
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee"]


def test_a_retry_after_the_dataset_was_deleted_replays_the_first_answer(
    alice_api, alice, train_body, dataset
):
    body = train_body()
    first = alice_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="train-2")
    services.dataset_delete(dataset=dataset)

    again = alice_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="train-2")

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert TrainedModel.objects.count() == 1
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee"]


def test_training_again_under_the_same_name_makes_the_next_version(alice_api, alice, train_body):
    versions = [alice_api.post(URL, train_body(), format="json").json()["version"] for _ in range(3)]
    other = alice_api.post(URL, train_body(name="other"), format="json").json()["version"]

    assert versions == [1, 2, 3]
    assert other == 1
    assert balance_of(alice) == Decimal("500.00") - 4 * FEE


def test_a_bad_prefer_header_is_a_400_before_any_charge(alice_api, alice, train_body):
    response = alice_api.post(URL, train_body(), format="json", HTTP_PREFER="wait=soon")

    assert response.status_code == 400
    assert_nothing_written(alice)


def test_prefer_wait_answers_202_when_the_job_is_not_done_in_time(alice_api, train_body):
    response = alice_api.post(URL, train_body(), format="json", HTTP_PREFER="wait=0")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"


def test_features_subset_and_split_are_stored(alice_api, train_body):
    response = alice_api.post(
        URL, train_body(features=["x", "color"], test_size=0.3, random_state=7), format="json"
    )

    assert response.status_code == 202
    model = TrainedModel.objects.get()
    assert (model.requested_features, model.test_size, model.random_state) == (["x", "color"], 0.3, 7)

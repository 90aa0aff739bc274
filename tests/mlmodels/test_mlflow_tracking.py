"""MLflow tracking against a real ``mlflow server`` (SQLite backend, artifacts served by
the server) started by the test on loopback; and a tracking server that is down."""

from __future__ import annotations

import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from prometheus_client.parser import text_string_to_metric_families

from core.counters import counter_values
from devservers.ports import free_port
from mlmodels.models import TrainedModel
from mlmodels.services.tracking import tracking_log_experiment
from mlmodels.tasks import track_model_task, train_model_task
from tests.mlmodels.mlflow_servers import http, mlflow_process, require_mlflow

API = "/api/2.0/mlflow"


def queued_task_names() -> list[str]:
    """Every task waiting in the broker that is configured (the ORM's or Redis), taken
    off the queue."""
    broker, names = get_broker(), []
    while batch := broker.dequeue():
        names += [SignedPackage.loads(payload)["name"] for _, payload in batch]
    return names


def ready_model(submit, alice, dataset) -> TrainedModel:
    model = submit(
        alice, name="churn", dataset=dataset.pk, target="label", algorithm="random_forest_classifier"
    )
    train_model_task(model.pk)
    model.refresh_from_db()
    assert model.status == "ready", model.error
    return model


def test_a_training_is_logged_with_params_metrics_tags_and_the_model(
    submit, alice, dataset, settings, tmp_path
):
    require_mlflow()
    with mlflow_process(
        [
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        ready_path="/health",
        log_path=tmp_path / "server.log",
        cwd=tmp_path,
    ) as server:
        settings.MLFLOW_TRACKING_URI = server.url
        settings.MLFLOW_TIMEOUT_SECONDS = 60  # a busy test machine, a server just started
        settings.MLFLOW_EXPERIMENT_NAME = "mlservice-tests"
        model = ready_model(submit, alice, dataset)

        track_model_task(model.pk)

        status, found = http(
            "GET", f"{server.url}{API}/experiments/get-by-name?experiment_name=mlservice-tests"
        )
        assert status == 200, found
        experiment_id = found["experiment"]["experiment_id"]
        status, runs = http("POST", f"{server.url}{API}/runs/search", {"experiment_ids": [experiment_id]})
        assert status == 200 and len(runs["runs"]) == 1, runs
        run = runs["runs"][0]
        assert run["info"]["status"] == "FINISHED"
        params = {item["key"]: item["value"] for item in run["data"]["params"]}
        metrics = {item["key"]: item["value"] for item in run["data"]["metrics"]}
        tags = {item["key"]: item["value"] for item in run["data"]["tags"]}
        assert params["algorithm"] == "random_forest_classifier"
        assert params["hp.n_estimators"] == str(model.hyperparameters["n_estimators"])
        assert params["target"] == "label"
        assert metrics["accuracy"] == pytest.approx(model.metrics["accuracy"])
        assert tags["mlservice.model_id"] == str(model.pk)
        assert tags["mlservice.owner_id"] == str(alice.pk)
        assert len(tags["mlservice.dataset_sha256"]) == 64
        assert tags["mlflow.runName"] == f"churn v{model.version}"

        run_id = run["info"]["run_id"]
        status, listed = http("GET", f"{server.url}{API}/artifacts/list?run_id={run_id}&path=model")
        assert status == 200, listed
        names = {item["path"] for item in listed["files"]}
        assert {"model/MLmodel", "model/model.pkl", "model/requirements.txt"} <= names
        assert counter_values() == {**counter_values(), "mlflow_tracking{outcome=logged}": 1}


def test_an_experiment_is_a_parent_run_with_a_child_run_per_trial(alice, dataset, settings, tmp_path):
    require_mlflow()
    from mlmodels import services

    experiment = services.experiment_submit(
        user=alice,
        request=services.experiment_validate(
            user=alice,
            dataset=dataset.pk,
            target="label",
            algorithms=["logistic_regression"],
            max_trials=2,
            cv_folds=2,
        ),
    )
    from mlmodels.tasks import experiment_task

    experiment_task(experiment.pk)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.error
    with mlflow_process(
        ["server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--workers", "1"],
        ready_path="/health",
        log_path=tmp_path / "server.log",
        cwd=tmp_path,
    ) as server:
        settings.MLFLOW_TRACKING_URI = server.url
        settings.MLFLOW_TIMEOUT_SECONDS = 60  # a busy test machine, a server just started
        assert tracking_log_experiment(experiment_id=experiment.pk)
        status, found = http("GET", f"{server.url}{API}/experiments/get-by-name?experiment_name=mlservice")
        status, runs = http(
            "POST",
            f"{server.url}{API}/runs/search",
            {"experiment_ids": [found["experiment"]["experiment_id"]]},
        )
        by_name = {run["info"]["run_name"]: run for run in runs["runs"]}
        parent = by_name[f"experiment #{experiment.pk}"]
        children = [run for name, run in by_name.items() if name.startswith("trial ")]
        assert len(children) == experiment.trials.count() == 2
        for child in children:
            tags = {item["key"]: item["value"] for item in child["data"]["tags"]}
            assert tags["mlflow.parentRunId"] == parent["info"]["run_id"]
            metrics = {item["key"] for item in child["data"]["metrics"]}
            assert "fit_seconds" in metrics
            assert ("cv_mean" in metrics) == (tags["mlservice.trial_state"] == "complete")
        states = [
            {item["key"]: item["value"] for item in child["data"]["tags"]}["mlservice.trial_state"]
            for child in children
        ]
        assert "complete" in states


def test_a_tracking_server_that_is_down_fails_nothing_and_is_counted(
    submit, alice, dataset, settings, client, django_capture_on_commit_callbacks
):
    settings.MLFLOW_TRACKING_URI = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    settings.MLFLOW_TIMEOUT_SECONDS = 2
    settings.METRICS_TOKEN = "tracking-token"
    settings.METRICS_CACHE_SECONDS = 0
    get_broker().purge_queue()
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")

    with django_capture_on_commit_callbacks(execute=True):
        train_model_task(model.pk)
    model.refresh_from_db()
    assert model.status == "ready"
    # The tracking is a task of its own, enqueued once the training committed.
    assert f"mlflow-model-{model.pk}" in queued_task_names()

    track_model_task(model.pk)  # as the worker runs it: it must not raise

    model.refresh_from_db()
    assert model.status == "ready"
    assert counter_values().get("mlflow_tracking{outcome=failed}") == 1
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer tracking-token")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    assert samples[("mlservice_mlflow_tracking_total", (("outcome", "failed"),))] == 1


def test_nothing_is_enqueued_without_a_tracking_server(
    submit, alice, dataset, django_capture_on_commit_callbacks
):
    get_broker().purge_queue()
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    with django_capture_on_commit_callbacks(execute=True):
        train_model_task(model.pk)
    names = queued_task_names()
    assert not any(name.startswith("mlflow-") for name in names)

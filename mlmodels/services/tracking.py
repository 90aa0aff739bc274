"""MLflow tracking, when MLFLOW_TRACKING_URI is set: every training that ends ready, and
every experiment that succeeds, is logged to the tracking server as a run.

It runs as its own django-q task, enqueued when the job's final transaction commits
(``tracking_enqueue_*``), so a slow or absent server never holds a training worker,
never changes a job's outcome and never delays a waiting request. A failure is logged
and counted (``mlservice_mlflow_tracking_total{outcome="failed"}`` on /metrics); it is
not retried.

A model's run: params (algorithm, hyperparameters, target, split, features...), the
numeric holdout (and cross-validation) metrics, tags ``mlservice.model_id``,
``mlservice.owner_id``, ``mlservice.dataset_sha256`` (of the dataset's file, while it
exists) and the exported MLflow model under the run's ``model/`` artifacts. An
experiment's run is a parent run with one child run per trial (its hyperparameters and
cross-validated score).
"""

from __future__ import annotations

import io
import logging
import math
import zipfile
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from core.counters import counter_increment, counter_name
from core.jobs.queue import enqueue_on_commit
from core.storage import StorageUnavailable, local_copy
from mlmodels.ml.artifacts import file_sha256
from mlmodels.ml.mlflow_client import MlflowTracking, TrackingError, now_ms
from mlmodels.models import Experiment, TrainedModel
from mlmodels.services.exports import model_export_mlflow

logger = logging.getLogger(__name__)

TRACKING_COUNTER = "mlflow_tracking"
MODEL_TASK = "mlmodels.tasks.track_model_task"
EXPERIMENT_TASK = "mlmodels.tasks.track_experiment_task"


def tracking_enabled() -> bool:
    return bool(settings.MLFLOW_TRACKING_URI)


def tracking_enqueue_model(model_id: int) -> None:
    """In the transaction that makes the model ready: log it once that commits."""
    if tracking_enabled():
        enqueue_on_commit(MODEL_TASK, model_id, task_name=f"mlflow-model-{model_id}")


def tracking_enqueue_experiment(experiment_id: int) -> None:
    if tracking_enabled():
        enqueue_on_commit(EXPERIMENT_TASK, experiment_id, task_name=f"mlflow-experiment-{experiment_id}")


def _count(outcome: str) -> None:
    try:
        with transaction.atomic():
            counter_increment(name=counter_name(TRACKING_COUNTER, outcome=outcome))
    except DatabaseError as error:
        logger.warning("mlflow tracking %s not counted: %s", outcome, error)


def _client() -> MlflowTracking:
    return MlflowTracking(settings.MLFLOW_TRACKING_URI, timeout=settings.MLFLOW_TIMEOUT_SECONDS)


def _numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric entries of a metrics dict (nested dicts flattened with dots)."""
    found: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            if math.isfinite(value):  # MLflow's JSON has no NaN
                found[f"{prefix}{key}"] = float(value)
        elif isinstance(value, dict):
            found.update(_numbers(value, f"{prefix}{key}."))
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def model_run_contents(model: TrainedModel) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """The params, metrics and tags of a model's run."""
    schema = model.feature_schema or {}
    params = {
        "algorithm": model.algorithm.key,
        "target": model.target,
        "task": model.task,
        "test_size": _text(model.test_size),
        "random_state": _text(model.random_state),
        "features": ",".join(feature["name"] for feature in schema.get("features", [])),
        "dataset": model.dataset_name,
        **{f"hp.{name}": _text(value) for name, value in sorted(model.hyperparameters.items())},
    }
    if model.cv_folds:
        params["cv_folds"] = _text(model.cv_folds)
    metrics = _numbers({key: value for key, value in (model.metrics or {}).items() if key != "per_class"})
    if model.rows_used is not None:
        metrics["rows_used"] = float(model.rows_used)
    tags = {
        "mlservice.model_id": str(model.pk),
        "mlservice.owner_id": str(model.owner_id),
        "mlservice.model_name": model.name,
        "mlservice.version": str(model.version),
        "mlservice.artifact_sha256": model.artifact_sha256,
    }
    dataset_file = model.dataset.file.name if model.dataset is not None else ""
    if dataset_file:
        try:
            with local_copy(dataset_file) as path:
                tags["mlservice.dataset_sha256"] = file_sha256(path)
        except (FileNotFoundError, StorageUnavailable):
            pass  # a tag less; the run is still logged
    if model.experiment_id:
        tags["mlservice.experiment_id"] = str(model.experiment_id)
    return params, metrics, tags


def _upload_model(client: MlflowTracking, artifact_uri: str, model: TrainedModel) -> None:
    with model_export_mlflow(model=model) as archive, zipfile.ZipFile(io.BytesIO(archive.read())) as files:
        for name in files.namelist():
            if not name.endswith("/"):
                client.upload_artifact(artifact_uri, f"model/{name}", files.read(name))


def _tracked(what: str, log: Callable[[MlflowTracking], None]) -> bool:
    """Run ``log`` against the server; never raises. True when everything was logged."""
    try:
        log(_client())
    except TrackingError as error:
        logger.warning("mlflow tracking of %s failed: %s", what, error)
        _count("failed")
        return False
    except Exception:
        logger.exception("mlflow tracking of %s failed", what)
        _count("failed")
        return False
    _count("logged")
    return True


def tracking_log_model(*, model_id: int) -> bool:
    """Log one ready model as a finished run; False (logged and counted) on failure."""
    if not tracking_enabled():
        return False
    model = TrainedModel.objects.select_related("algorithm", "dataset").filter(pk=model_id).first()
    if model is None or model.status != TrainedModel.Status.READY:
        return False

    def log(client: MlflowTracking) -> None:
        params, metrics, tags = model_run_contents(model)
        experiment_id = client.experiment_id(settings.MLFLOW_EXPERIMENT_NAME)
        started = int(model.started_at.timestamp() * 1000) if model.started_at else now_ms()
        ended = int(model.finished_at.timestamp() * 1000) if model.finished_at else now_ms()
        info = client.create_run(
            experiment_id=experiment_id,
            run_name=f"{model.name} v{model.version}",
            start_ms=started,
            tags=tags,
        )
        client.log_batch(info["run_id"], params=params, metrics=metrics, timestamp_ms=ended)
        try:
            _upload_model(client, info.get("artifact_uri", ""), model)
        finally:
            client.end_run(info["run_id"], end_ms=ended)

    return _tracked(f"model {model_id}", log)


def tracking_log_experiment(*, experiment_id: int) -> bool:
    """Log a succeeded experiment: a parent run, one child run per trial."""
    if not tracking_enabled():
        return False
    experiment = Experiment.objects.filter(pk=experiment_id).first()
    if experiment is None or experiment.status != Experiment.Status.SUCCEEDED:
        return False

    def log(client: MlflowTracking) -> None:
        mlflow_experiment = client.experiment_id(settings.MLFLOW_EXPERIMENT_NAME)
        started = int(experiment.started_at.timestamp() * 1000) if experiment.started_at else now_ms()
        ended = int(experiment.finished_at.timestamp() * 1000) if experiment.finished_at else now_ms()
        tags = {
            "mlservice.experiment_id": str(experiment.pk),
            "mlservice.owner_id": str(experiment.owner_id),
        }
        if experiment.best_model_id:
            tags["mlservice.best_model_id"] = str(experiment.best_model_id)
        parent = client.create_run(
            experiment_id=mlflow_experiment,
            run_name=f"experiment #{experiment.pk}",
            start_ms=started,
            tags=tags,
        )
        params = {
            "target": experiment.target,
            "task": experiment.task,
            "metric": experiment.metric,
            "algorithms": ",".join(experiment.algorithms),
            "max_trials": _text(experiment.max_trials),
            "cv_folds": _text(experiment.cv_folds),
            "dataset": experiment.dataset_name,
        }
        metrics = _numbers({"trials_done": experiment.trials_done, "best_score": experiment.best_score})
        client.log_batch(parent["run_id"], params=params, metrics=metrics, timestamp_ms=ended)
        for trial in experiment.trials.order_by("number"):
            child = client.create_run(
                experiment_id=mlflow_experiment,
                run_name=f"trial {trial.number}: {trial.algorithm}",
                start_ms=started,
                tags={
                    "mlflow.parentRunId": parent["run_id"],
                    "mlservice.experiment_id": str(experiment.pk),
                    "mlservice.trial": str(trial.number),
                    "mlservice.trial_state": trial.state,
                },
            )
            trial_metrics = _numbers(
                {"cv_mean": trial.cv_mean, "cv_std": trial.cv_std, "fit_seconds": trial.fit_seconds}
            )
            trial_params = {"algorithm": trial.algorithm}
            trial_params.update(
                {f"hp.{name}": _text(value) for name, value in sorted(trial.hyperparameters.items())}
            )
            client.log_batch(child["run_id"], params=trial_params, metrics=trial_metrics, timestamp_ms=ended)
            client.end_run(child["run_id"], end_ms=ended)
        client.end_run(parent["run_id"], end_ms=ended)

    return _tracked(f"experiment {experiment_id}", log)

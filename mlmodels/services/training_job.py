"""The training job (core.jobs): claim, read the dataset, fit through the engine with
progress, save the artifact, then ready — or failed and refunded. Runs in a worker,
outside any transaction; every state change is a conditional UPDATE."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import pandas as pd
from django.conf import settings

from core.files import shared_file_mode
from core.jobs.lifecycle import SweepReport, job_claim, job_fail, job_progress, job_succeed, job_sweep
from core.jobs.limits import out_of_memory_message
from core.storage import StagedFile, local_copy
from mlmodels.jobs import TRAINING
from mlmodels.ml import artifacts, csvio, training
from mlmodels.ml.errors import DatasetError, MLError
from mlmodels.ml.schema import FeatureSchema
from mlmodels.models import TrainedModel
from mlmodels.services.files import remove_media_file
from mlmodels.services.tracking import tracking_enqueue_model
from monitoring.services import training_reference_record

logger = logging.getLogger(__name__)

# Progress writes are throttled: a stage change is always written, the same stage at
# most this often.
PROGRESS_INTERVAL_SECONDS = 0.5


class TrainingAbandoned(Exception):
    """The model left ``running`` while it trained (swept as stuck, or deleted)."""


class _ProgressReporter:
    """The engine's progress callback: writes stage and percent, throttled, only while
    the model is still ``running``; otherwise stops the training."""

    def __init__(self, model_id: int) -> None:
        self.model_id = model_id
        self.stage: str | None = None
        self.written_at = 0.0

    def __call__(self, stage: str, percent: int) -> None:
        now = time.monotonic()
        if stage == self.stage and now - self.written_at < PROGRESS_INTERVAL_SECONDS:
            return
        # 100 is shown once the model is ready, not while the artifact is still saved.
        percent = max(1, min(99, int(percent)))
        if not job_progress(TRAINING, self.model_id, stage=stage[:32], progress=percent):
            raise TrainingAbandoned()
        self.stage, self.written_at = stage, now


def training_claim(*, model_id: int, task_id: str = "") -> bool:
    """queued → running. False when another delivery of the task (or a delete) got
    there first: the caller must then do nothing."""
    return job_claim(TRAINING, model_id, progress=1, stage="starting", error="", task_id=task_id[:64])


def read_dataset_frame(dataset, dataset_name: str) -> pd.DataFrame:
    """The whole table of a job's dataset, within the service's row and column limits;
    DatasetError when it was deleted or its file is missing."""
    if dataset is None:
        raise DatasetError(f"The dataset '{dataset_name}' was deleted before the job ran.")
    try:
        with local_copy(dataset.file.name) as path:
            table = csvio.read_table(
                path, max_rows=settings.DATASET_MAX_ROWS, max_columns=settings.DATASET_MAX_COLUMNS
            )
    except FileNotFoundError:
        raise DatasetError(
            f"The file of dataset '{dataset.name}' is missing; upload the data again."
        ) from None
    return table.frame


def training_execute(*, model_id: int) -> TrainedModel:
    """Train a model already claimed (``running``): read its dataset, fit through the
    engine with progress reports, save the artifact, and end ``ready`` — or ``failed``
    with a readable error and the fee refunded. Runs outside any transaction (it is
    slow); every state change is a conditional UPDATE."""
    model = TrainedModel.objects.select_related("dataset", "algorithm").get(pk=model_id)
    report = _ProgressReporter(model.pk)
    artifact_name = ""
    try:
        report("reading", 2)
        started = time.perf_counter()
        frame = read_dataset_frame(model.dataset, model.dataset_name)
        read_seconds = time.perf_counter() - started
        result = training.train_model(
            frame,
            target=model.target,
            algorithm=model.algorithm.key,
            hyperparameters=model.hyperparameters,
            test_size=model.test_size,
            random_state=model.random_state,
            features=model.requested_features,
            cv_folds=model.cv_folds,
            refit_full=model.refit_full,
            max_encoded_cells=settings.TRAINING_MAX_ENCODED_CELLS,
            progress=report,
        )
        # Input drift is measured against the rows in memory now (never fails the job).
        training_reference_record(model_id=model.pk, frame=frame, schema=result.feature_schema)
        del frame
        report("saving", 97)
        started = time.perf_counter()
        artifact_name, info = save_model_artifact(
            model, pipeline=result.pipeline, feature_schema=result.feature_schema
        )
        save_seconds = time.perf_counter() - started
    except TrainingAbandoned:
        remove_media_file(artifact_name)
        logger.info("model %s left running while it trained; result discarded", model_id)
        return TrainedModel.objects.get(pk=model_id)
    except Exception as error:
        return failed_by(error, model_id=model_id, artifact_name=artifact_name, work="Training")

    # Reading the table and saving the artifact are part of the job too: the total is
    # what the user waited for once a worker took the job.
    engine_seconds = result.timings.get("total_seconds", 0.0)
    timings = {
        "read_seconds": round(read_seconds, 3),
        **{name: value for name, value in result.timings.items() if name != "total_seconds"},
        "save_seconds": round(save_seconds, 3),
        "total_seconds": round(read_seconds + engine_seconds + save_seconds, 3),
    }
    if not training_succeed(
        model_id=model_id, result=result, timings=timings, artifact_name=artifact_name, artifact=info
    ):
        remove_media_file(artifact_name)
    return TrainedModel.objects.get(pk=model_id)


def save_model_artifact(
    model: TrainedModel, *, pipeline: Any, feature_schema: FeatureSchema
) -> tuple[str, artifacts.ArtifactInfo]:
    """Save a model's pipeline (trained here, or an imported model wrapped by the
    engine) under ``models/<owner>/<id>-<sha prefix>.joblib``: the name carries the
    hash, so a changed file is easy to spot and a new version never overwrites one."""
    folder = f"models/{model.owner_id}"
    staged = StagedFile(f"{folder}/{model.pk}-{secrets.token_hex(4)}.joblib.pending", suffix=".joblib")
    try:
        info = artifacts.save_artifact(
            staged.path,
            pipeline=pipeline,
            feature_schema=feature_schema,
            algorithm=model.algorithm.key,
            file_mode=shared_file_mode(),
        )
        final = staged.store(f"{folder}/{model.pk}-{info.sha256[:12]}.joblib")
    except BaseException:
        staged.discard()
        raise
    finally:
        staged.release()
    return final, info


def training_succeed(
    *,
    model_id: int,
    result: training.TrainingResult,
    timings: dict[str, float],
    artifact_name: str,
    artifact: artifacts.ArtifactInfo,
) -> bool:
    """running → ready with the results, and the active-version rule, in one
    transaction; False (nothing written) when the model is no longer running or was
    deleted meanwhile."""
    return job_succeed(
        TRAINING,
        model_id,
        then=lambda: _ready(model_id),
        progress=100,
        stage="done",
        metrics=result.metrics,
        feature_schema=result.feature_schema.to_dict(),
        timings=timings,
        rows_used=result.rows_used,
        rows_dropped=result.rows_dropped_missing_target,
        warnings=list(result.warnings),
        artifact=artifact_name,
        artifact_sha256=artifact.sha256,
        artifact_size=artifact.size_bytes,
        library_versions=artifact.library_versions,
    )


def _ready(model_id: int) -> None:
    """What a model becoming ready sets off, in the transaction that makes it so."""
    activate_newest(TrainedModel.objects.get(pk=model_id))
    tracking_enqueue_model(model_id)


def activate_newest(model: TrainedModel) -> None:
    """The active-version rule: a version that becomes ready becomes the active one of
    its name, unless the active version is pinned (chosen by its owner or staff, or
    published), public, or newer than this one."""
    siblings = TrainedModel.objects.select_for_update().filter(
        owner_id=model.owner_id, name=model.name, deleted_at__isnull=True
    )
    current = siblings.filter(is_active=True).exclude(pk=model.pk).first()
    if current is not None and (
        current.active_pinned or current.is_public or current.version > model.version
    ):
        return
    # Deactivate first: the one-active-version constraint is checked per statement.
    siblings.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
    TrainedModel.objects.filter(pk=model.pk).update(is_active=True)


def failed_by(error: Exception, *, model_id: int, artifact_name: str, work: str) -> TrainedModel:
    """Fail a training or import job (``work``: what the user reads it as) whose work
    raised ``error``, with the fee refunded and the artifact it may have saved removed.
    The user reads the engine's own words for problems it knows, never a traceback;
    anything else is logged for operators. Call it from the ``except`` block."""
    remove_media_file(artifact_name)
    if isinstance(error, MLError):
        message = error.readable()
    elif isinstance(error, MemoryError):
        message = out_of_memory_message(work)
    else:
        logger.exception("%s of model %s failed", work, model_id)
        message = f"{work} failed: {type(error).__name__}: {error}"
    training_fail(model_id=model_id, error=message)
    return TrainedModel.objects.get(pk=model_id)


def training_fail(*, model_id: int, error: str, states: tuple[str, ...] = ("running",)) -> bool:
    """Move the model from one of ``states`` (core.jobs.lifecycle's "queued" or
    "running") to failed with ``error`` and refund its fee, in one transaction. False
    when it was not in those states: the fee is refunded at most once."""
    return job_fail(TRAINING, model_id, error=error, states=states, stage="failed")


def training_sweep(*, now=None) -> SweepReport:
    """Training jobs lost or stuck: the one sweep policy (core.jobs.lifecycle.job_sweep)."""
    return job_sweep(TRAINING, now=now)

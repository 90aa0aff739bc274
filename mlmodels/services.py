"""Everything that changes datasets, algorithms and trained models.

Views, the API, admin actions, management commands and tasks call these functions;
none of them writes a status, a fee or a file by itself. The ML work is done by the
Django-free engine in ``mlmodels.ml``; its errors (MLError) are turned into
``InvalidInput`` here so the API and the web forms show the same message.

A training job moves ``queued → running → ready | failed`` by conditional UPDATEs
(``filter(status=...).update(...)``), so a task delivered twice, a sweep and a
delete racing with a worker can never move one job twice or refund it twice.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from billing.models import LedgerEntry
from billing.services import account_debit, charge_refund
from mlmodels.ml import artifacts, catalog, csvio, profiling, training
from mlmodels.ml.errors import DatasetError, HyperparameterError, MLError, TargetError
from mlmodels.models import Algorithm, Dataset, TrainedModel
from mlservice.errors import InvalidInput, PayloadTooLarge
from mlservice.jobs import enqueue_on_commit
from mlservice.logs import job_event

logger = logging.getLogger(__name__)

UPLOAD_CHUNK_BYTES = 1024 * 1024
DEFAULT_TEST_SIZE = 0.2
DEFAULT_RANDOM_STATE = 42
# A running job is declared dead this long after django-q would have killed it: the
# margin covers a worker that is slow to record its own failure.
SWEEP_MARGIN_SECONDS = 60
# A job enqueued this many times without ever starting is failed and refunded rather
# than enqueued forever (the queue is down or the task cannot be imported).
MAX_ENQUEUE_ATTEMPTS = 5
# Progress writes are throttled: a stage change is always written, the same stage at
# most this often.
PROGRESS_INTERVAL_SECONDS = 0.5

_DELIMITER_NAMES = {";": "semicolons", "\t": "tabs", "|": "vertical bars (|)"}


# --- Files -------------------------------------------------------------------------------


def media_path(name: str) -> Path:
    """The absolute path of a file stored under MEDIA_ROOT by its relative name."""
    return Path(settings.MEDIA_ROOT) / name


def _remove_media_file(name: str) -> None:
    if not name:
        return
    try:
        media_path(name).unlink(missing_ok=True)
    except OSError:
        logger.warning("could not remove %s", name, exc_info=True)


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _summary(errors: dict[str, list[str]]) -> str:
    if len(errors) == 1:
        field, messages = next(iter(errors.items()))
        return f"{field}: {messages[0]}" if messages else f"{field} is invalid."
    return "Invalid input: " + ", ".join(sorted(errors)) + "."


def _ml_error_text(error: MLError) -> str:
    """One readable line for a failed job: the message and the details it names."""
    details = [message for messages in error.errors.values() for message in messages]
    details = [detail for detail in details if detail.rstrip(".") != error.message.rstrip(".")]
    if details:
        return f"{error.message.rstrip('.')}: {'; '.join(details)}"
    return error.message


# --- Datasets ----------------------------------------------------------------------------


def _too_large(size: int | None, limit: int) -> PayloadTooLarge:
    limit_mb = limit / 1e6
    if size is None:
        message = f"The file is larger than the limit of {limit_mb:.1f} MB."
    else:
        message = f"The file is {size / 1e6:.1f} MB; the limit is {limit_mb:.1f} MB."
    return PayloadTooLarge(message, {"file": [message]}, limit_bytes=limit)


def _copy_upload(uploaded, path: Path, max_bytes: int) -> int:
    """Copy an uploaded file to ``path`` in chunks, counting bytes (the declared size
    of an upload is the client's word)."""
    written = 0
    with open(path, "wb") as handle:
        for chunk in uploaded.chunks(UPLOAD_CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise _too_large(None, max_bytes)
            handle.write(chunk)
    return written


def _dataset_notes(table: csvio.Table) -> list[str]:
    notes: list[str] = []
    fmt = table.format
    if fmt.encoding_note:
        notes.append(
            f"The file is not valid UTF-8; it was read as {fmt.encoding}. "
            "Check that accented letters look right below."
        )
    if fmt.delimiter != ",":
        notes.append(f"Columns are separated by {_DELIMITER_NAMES.get(fmt.delimiter, repr(fmt.delimiter))}.")
    empty = [column.name for column in table.columns if column.missing == len(table.frame)]
    if empty:
        notes.append("Every value is missing in: " + ", ".join(empty[:10]) + ("…" if len(empty) > 10 else ""))
    return notes


def dataset_upload(*, user, file, name: str = "", enqueue_profile: bool = True) -> Dataset:
    """Store an uploaded CSV under MEDIA_ROOT, read it (encoding, delimiter, header,
    row and column limits) and record its columns; a task computes the profile.

    Refused files raise InvalidInput (field ``file``, the engine's message) or
    PayloadTooLarge; nothing is stored then, neither a row nor a file.
    """
    max_bytes = settings.DATASET_MAX_BYTES
    name = (name or "").strip()
    if len(name) > 200:
        raise InvalidInput("name: at most 200 characters.", {"name": ["At most 200 characters."]})
    if file is None:
        raise InvalidInput("file: choose a CSV file to upload.", {"file": ["Choose a CSV file to upload."]})
    declared = getattr(file, "size", None)
    if declared is not None and declared > max_bytes:
        raise _too_large(declared, max_bytes)
    original_filename = os.path.basename(getattr(file, "name", "") or "")[:255]
    name = name or (Path(original_filename).stem[:200] if original_filename else "") or "Dataset"

    token = secrets.token_hex(8)
    relative = f"datasets/{user.pk}/{token}.csv"
    path = media_path(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        size = _copy_upload(file, path, max_bytes)
        table = csvio.read_table(
            path,
            max_rows=settings.DATASET_MAX_ROWS,
            max_columns=settings.DATASET_MAX_COLUMNS,
            max_bytes=max_bytes,
        )
        with transaction.atomic():
            dataset = Dataset(
                owner=user,
                name=name,
                token=token,
                original_filename=original_filename,
                size_bytes=size,
                rows=len(table.frame),
                columns=[column.as_dict() for column in table.columns],
                encoding=table.format.encoding,
                delimiter=table.format.delimiter,
                notes=_dataset_notes(table),
                status=Dataset.Status.PROFILING,
            )
            dataset.file.name = relative
            dataset.save()
            if enqueue_profile:
                enqueue_on_commit(
                    "mlmodels.tasks.dataset_profile_task",
                    dataset.pk,
                    task_name=f"profile-dataset-{dataset.pk}",
                )
    except MLError as error:
        path.unlink(missing_ok=True)
        raise InvalidInput(_sentence(error.message), error.errors or {"file": [error.message]}) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return dataset


def dataset_profile(*, dataset_id: int) -> Dataset | None:
    """Compute the profile of a dataset that is still ``profiling`` and move it to
    ``ready`` (or ``failed`` with the reason). A second call does nothing."""
    dataset = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PROFILING).first()
    if dataset is None:
        return None
    pending = Dataset.objects.filter(pk=dataset_id, status=Dataset.Status.PROFILING)
    try:
        table = csvio.read_table(
            media_path(dataset.file.name),
            max_rows=settings.DATASET_MAX_ROWS,
            max_columns=settings.DATASET_MAX_COLUMNS,
        )
        started = time.perf_counter()
        profile = profiling.profile_table(table.frame, table.columns)
        profile["seconds"] = round(time.perf_counter() - started, 3)
    except FileNotFoundError:
        pending.update(
            status=Dataset.Status.FAILED, error="The stored file is missing; upload the data again."
        )
    except MLError as error:
        pending.update(status=Dataset.Status.FAILED, error=_sentence(error.message))
    except Exception as error:
        logger.exception("profiling dataset %s failed", dataset_id)
        pending.update(
            status=Dataset.Status.FAILED, error=f"Profiling failed: {type(error).__name__}: {error}"
        )
    else:
        pending.update(status=Dataset.Status.READY, profile=profile, error="")
    return Dataset.objects.get(pk=dataset_id)


def dataset_profile_sweep(*, now=None) -> dict[str, list[int]]:
    """Enqueue again the profile task of datasets still ``profiling`` after
    QUEUED_STALE_SECONDS (the broker may have lost it: Redis keeps no delivery
    receipts); give up on those older than the task timeout plus that margin.
    Profiling twice is harmless: dataset_profile moves a dataset only while it is
    still ``profiling``."""
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.QUEUED_STALE_SECONDS)
    give_up_before = stale_before - timedelta(seconds=settings.TASK_TIMEOUT)
    profiling = Dataset.objects.filter(status=Dataset.Status.PROFILING)
    failed = list(profiling.filter(created_at__lt=give_up_before).values_list("pk", flat=True))
    if failed:
        Dataset.objects.filter(pk__in=failed, status=Dataset.Status.PROFILING).update(
            status=Dataset.Status.FAILED,
            error="Profiling never finished; upload the file again.",
        )
    requeued = list(
        profiling.filter(created_at__lt=stale_before, created_at__gte=give_up_before).values_list(
            "pk", flat=True
        )
    )
    for pk in requeued:
        enqueue_on_commit("mlmodels.tasks.dataset_profile_task", pk, task_name=f"profile-dataset-{pk}")
    return {"failed": failed, "requeued": requeued}


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete the dataset and its file. Models trained on it keep its name; a model
    still waiting to train on it will fail and be refunded."""
    name = dataset.file.name
    with transaction.atomic():
        dataset.delete()
        transaction.on_commit(lambda: _remove_media_file(name))


def _dataset_frame(dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
    """The stored table as raw text (all columns, or only ``columns``)."""
    fmt = csvio.CsvFormat(encoding=dataset.encoding, delimiter=dataset.delimiter)
    chunks = list(
        csvio.iter_csv_chunks(
            media_path(dataset.file.name), fmt, chunk_rows=max(dataset.rows, 1), columns=columns
        )
    )
    if not chunks:
        return pd.DataFrame(columns=columns or dataset.column_names)
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


# --- Algorithms --------------------------------------------------------------------------


def algorithm_sync() -> dict[str, list[str]]:
    """Bring the Algorithm table in step with the code catalog: create what is new,
    refresh names and descriptions, and mark what the code no longer offers
    ``in_catalog=False``. Operator choices (enabled, training_price) are never
    overwritten. Safe to run any number of times."""
    created: list[str] = []
    updated: list[str] = []
    for spec in catalog.ALGORITHMS.values():
        described = {
            "name": spec.name,
            "task": spec.task,
            "description": spec.description,
            "in_catalog": True,
        }
        algorithm, was_created = Algorithm.objects.get_or_create(key=spec.key, defaults=described)
        if was_created:
            created.append(spec.key)
            continue
        changed = [field for field, value in described.items() if getattr(algorithm, field) != value]
        if changed:
            for field in changed:
                setattr(algorithm, field, described[field])
            algorithm.save(update_fields=changed)
            updated.append(spec.key)
    gone = Algorithm.objects.filter(in_catalog=True).exclude(key__in=list(catalog.ALGORITHMS))
    removed = list(gone.values_list("key", flat=True))
    gone.update(in_catalog=False)
    return {"created": created, "updated": updated, "removed": removed}


def algorithm_hyperparameters(key: str) -> list[dict[str, Any]]:
    """The hyperparameter schema of an algorithm, from the code catalog."""
    spec = catalog.ALGORITHMS.get(key)
    return [parameter.as_dict() for parameter in spec.hyperparameters] if spec else []


# --- Training: validation and submission ---------------------------------------------------


@dataclass(frozen=True)
class TrainingRequest:
    """A training request that passed every check that can be made before charging."""

    name: str
    dataset: Dataset
    target: str
    algorithm: Algorithm
    hyperparameters: dict[str, Any]
    test_size: float
    random_state: int
    features: list[str] | None
    rows_used: int
    classes: list[Any] | None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def training_validate(
    *,
    user,
    name: Any,
    dataset: Any,
    target: Any,
    algorithm: Any,
    hyperparameters: Any = None,
    test_size: Any = None,
    random_state: Any = None,
    features: Any = None,
) -> TrainingRequest:
    """Check a training request completely, before anything is charged: the dataset is
    the caller's and ready, the target exists and suits the algorithm's task (via the
    engine's ``check_target`` on the stored data), the algorithm is offered and
    enabled, the hyperparameters pass the catalog's validator, the split and seed are
    in range and the features are columns other than the target.

    ``dataset`` is an id (or a Dataset), ``algorithm`` a key. Raises InvalidInput with
    every problem found, keyed by the API's field names (``hyperparameters.<name>``).
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    name = name.strip() if isinstance(name, str) else ""
    if not name:
        add("name", "Give the model a name.")
    elif len(name) > 100:
        add("name", f"At most 100 characters (this one has {len(name)}).")

    dataset_obj: Dataset | None = None
    dataset_id = dataset.pk if isinstance(dataset, Dataset) else dataset
    if dataset_id in (None, ""):
        add("dataset", "Choose a dataset.")
    else:
        dataset_obj = (
            Dataset.objects.filter(pk=dataset_id, owner=user).first() if _is_int(dataset_id) else None
        )
        if dataset_obj is None:
            add("dataset", f"You have no dataset with id {dataset_id}.")
        elif dataset_obj.status == Dataset.Status.PROFILING:
            add("dataset", "The dataset is still being profiled; try again in a few seconds.")
            dataset_obj = None
        elif dataset_obj.status == Dataset.Status.FAILED:
            add("dataset", f"The dataset could not be profiled: {dataset_obj.error}")
            dataset_obj = None

    algorithm_obj: Algorithm | None = None
    if not isinstance(algorithm, str) or not algorithm:
        add("algorithm", "Choose an algorithm.")
    else:
        algorithm_obj = Algorithm.objects.filter(key=algorithm, in_catalog=True).first()
        if algorithm_obj is None or algorithm not in catalog.ALGORITHMS:
            add(
                "algorithm",
                f"Unknown algorithm '{algorithm}'; choose one of: {', '.join(catalog.ALGORITHMS)}.",
            )
            algorithm_obj = None
        elif not algorithm_obj.enabled:
            add(
                "algorithm",
                f"{algorithm_obj.name} ({algorithm}) is disabled on this service; choose another.",
            )
            algorithm_obj = None

    cleaned_parameters: dict[str, Any] = {}
    if algorithm_obj is not None:
        try:
            cleaned_parameters = catalog.validate_hyperparameters(algorithm_obj.key, hyperparameters)
        except HyperparameterError as error:
            for field, messages in (error.errors or {"hyperparameters": [error.message]}).items():
                for message in messages:
                    add(field, message)
    elif hyperparameters is not None and not isinstance(hyperparameters, dict):
        add("hyperparameters", "Must be an object of name: value.")

    if test_size is None:
        test_size = DEFAULT_TEST_SIZE
    if not _is_number(test_size) or not math.isfinite(test_size):
        add("test_size", "Must be a number from 0.05 to 0.5.")
    elif not training.MIN_TEST_SIZE <= float(test_size) <= training.MAX_TEST_SIZE:
        add(
            "test_size",
            f"Must be from {training.MIN_TEST_SIZE} to {training.MAX_TEST_SIZE} (got {test_size}).",
        )

    if random_state is None:
        random_state = DEFAULT_RANDOM_STATE
    if not _is_int(random_state):
        add("random_state", "Must be a whole number.")
    elif not 0 <= int(random_state) <= 2**32 - 1:
        add("random_state", f"Must be from 0 to {2**32 - 1}.")

    columns = dataset_obj.column_names if dataset_obj is not None else []
    target_ok = False
    if not isinstance(target, str) or not target.strip():
        add("target", "Choose the column to predict.")
    elif dataset_obj is not None:
        target = target.strip()
        if target not in columns:
            listed = ", ".join(columns[:20]) + (", …" if len(columns) > 20 else "")
            add("target", f"The dataset has no column '{target}'; its columns are: {listed}.")
        else:
            target_ok = True

    if features is not None:
        if not isinstance(features, list) or not all(isinstance(item, str) for item in features):
            add("features", "Must be a list of column names.")
        elif not features:
            add("features", "Choose at least one feature column, or leave the list out to use them all.")
        else:
            features = list(dict.fromkeys(item.strip() for item in features))
            if dataset_obj is not None:
                unknown = [item for item in features if item not in columns]
                if unknown:
                    add(
                        "features",
                        "The dataset has no column " + ", ".join(f"'{item}'" for item in unknown) + ".",
                    )
                if isinstance(target, str) and target in features:
                    add("features", f"'{target}' is the target; it cannot also be a feature.")

    summary = None
    if target_ok and algorithm_obj is not None and dataset_obj is not None:
        summary = _check_target(dataset_obj, target, algorithm_obj, add)
        if (
            summary is not None
            and algorithm_obj.key == "logistic_regression"
            and cleaned_parameters.get("solver") == "liblinear"
            and summary.classes is not None
            and len(summary.classes) > 2
        ):
            add(
                "hyperparameters.solver",
                f"solver 'liblinear' handles only two classes; '{target}' has {len(summary.classes)}. "
                "Choose another solver (saga also supports l1).",
            )

    if errors:
        raise InvalidInput(_summary(errors), errors)
    assert dataset_obj is not None and algorithm_obj is not None and summary is not None
    return TrainingRequest(
        name=name,
        dataset=dataset_obj,
        target=target,
        algorithm=algorithm_obj,
        hyperparameters=cleaned_parameters,
        test_size=float(test_size),
        random_state=int(random_state),
        features=features,
        rows_used=summary.rows_used,
        classes=summary.classes,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_target(dataset: Dataset, target: str, algorithm: Algorithm, add) -> training.TargetSummary | None:
    try:
        frame = _dataset_frame(dataset, [target])
    except FileNotFoundError:
        add("dataset", "The dataset's file is missing; upload the data again.")
        return None
    except DatasetError as error:
        add("dataset", _sentence(error.message))
        return None
    try:
        return training.check_target(frame, target, algorithm.task)
    except TargetError as error:
        for field, messages in (error.errors or {"target": [error.message]}).items():
            for message in messages:
                add(field, message)
        other = "regression" if algorithm.task == "classification" else "classification"
        try:
            training.check_target(frame, target, other)
        except TargetError:
            pass
        else:
            add(
                "algorithm",
                f"{algorithm.name} is a {algorithm.task} algorithm, but '{target}' suits {other}: "
                f"choose a {other} algorithm.",
            )
        return None


def _enqueue_training(model: TrainedModel) -> None:
    pk = model.pk
    enqueue_on_commit(
        "mlmodels.tasks.train_model_task",
        pk,
        task_name=f"train-model-{pk}",
        on_enqueued=lambda task_id: TrainedModel.objects.filter(pk=pk).update(task_id=task_id or ""),
    )


def model_submit(
    *, user, request: TrainingRequest, charge: bool = True, enqueue: bool = True
) -> TrainedModel:
    """Create the model (``queued``, the next version of its name), charge the
    algorithm's training price and enqueue the training task on commit — all in one
    transaction: InsufficientFunds (402) leaves nothing behind.

    ``charge=False`` and ``enqueue=False`` are for the demo catalog, which trains
    operator models synchronously and for free (see the seed_demo command).
    """
    price = request.algorithm.training_price if charge else Decimal("0.00")
    for attempt in range(3):
        try:
            with transaction.atomic():
                latest = TrainedModel.objects.filter(owner=user, name=request.name).aggregate(Max("version"))
                version = (latest["version__max"] or 0) + 1
                now = timezone.now()
                model = TrainedModel.objects.create(
                    owner=user,
                    name=request.name,
                    version=version,
                    dataset=request.dataset,
                    dataset_name=request.dataset.name,
                    algorithm=request.algorithm,
                    task=request.algorithm.task,
                    target=request.target,
                    requested_features=request.features,
                    hyperparameters=request.hyperparameters,
                    test_size=request.test_size,
                    random_state=request.random_state,
                    training_fee=price,
                    price_per_row=settings.DEFAULT_PRICE_PER_ROW,
                    # A version becomes active when it is ready (model_training_succeed).
                    is_active=False,
                    is_public=False,
                    enqueued_at=now if enqueue else None,
                    attempts=1 if enqueue else 0,
                    created_at=now,
                )
                if price > 0:
                    account_debit(
                        user=user,
                        amount=price,
                        kind=LedgerEntry.Kind.TRAINING_FEE,
                        memo=f"Training {model} ({request.algorithm.name})",
                        model=model,
                    )
                if enqueue:
                    _enqueue_training(model)
            return model
        except IntegrityError:
            # Two submissions raced for the same next version; count again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# --- Training: the job ---------------------------------------------------------------------


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
        updated = TrainedModel.objects.filter(
            pk=self.model_id, status=TrainedModel.Status.RUNNING, deleted_at__isnull=True
        ).update(stage=stage[:32], progress=percent)
        if not updated:
            raise TrainingAbandoned()
        self.stage, self.written_at = stage, now


def model_training_claim(*, model_id: int) -> bool:
    """Move a model from ``queued`` to ``running``. False when another delivery of the
    task (or a delete) got there first: the caller must then do nothing."""
    return (
        TrainedModel.objects.filter(
            pk=model_id, status=TrainedModel.Status.QUEUED, deleted_at__isnull=True
        ).update(
            status=TrainedModel.Status.RUNNING,
            started_at=timezone.now(),
            progress=1,
            stage="starting",
            error="",
        )
        == 1
    )


def _read_training_frame(model: TrainedModel) -> pd.DataFrame:
    dataset = model.dataset
    if dataset is None:
        raise DatasetError(f"The dataset '{model.dataset_name}' was deleted before the model was trained.")
    path = media_path(dataset.file.name)
    if not path.exists():
        raise DatasetError(f"The file of dataset '{dataset.name}' is missing; upload the data again.")
    table = csvio.read_table(
        path, max_rows=settings.DATASET_MAX_ROWS, max_columns=settings.DATASET_MAX_COLUMNS
    )
    return table.frame


def model_training_execute(*, model_id: int) -> TrainedModel:
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
        frame = _read_training_frame(model)
        read_seconds = time.perf_counter() - started
        result = training.train_model(
            frame,
            target=model.target,
            algorithm=model.algorithm.key,
            hyperparameters=model.hyperparameters,
            test_size=model.test_size,
            random_state=model.random_state,
            features=model.requested_features,
            progress=report,
        )
        del frame
        report("saving", 97)
        started = time.perf_counter()
        artifact_name, info = _save_model_artifact(model, result)
        save_seconds = time.perf_counter() - started
    except TrainingAbandoned:
        _remove_media_file(artifact_name)
        logger.info("model %s left running while it trained; result discarded", model_id)
        return TrainedModel.objects.get(pk=model_id)
    except MLError as error:
        _remove_media_file(artifact_name)
        model_training_fail(model_id=model_id, error=_ml_error_text(error))
        return TrainedModel.objects.get(pk=model_id)
    except Exception as error:
        logger.exception("training model %s failed", model_id)
        _remove_media_file(artifact_name)
        model_training_fail(model_id=model_id, error=f"Training failed: {type(error).__name__}: {error}")
        return TrainedModel.objects.get(pk=model_id)

    # Reading the table and saving the artifact are part of the job too: the total is
    # what the user waited for once a worker took the job.
    engine_seconds = result.timings.get("total_seconds", 0.0)
    timings = {
        "read_seconds": round(read_seconds, 3),
        **{name: value for name, value in result.timings.items() if name != "total_seconds"},
        "save_seconds": round(save_seconds, 3),
        "total_seconds": round(read_seconds + engine_seconds + save_seconds, 3),
    }
    if not model_training_succeed(
        model_id=model_id, result=result, timings=timings, artifact_name=artifact_name, artifact=info
    ):
        _remove_media_file(artifact_name)
    return TrainedModel.objects.get(pk=model_id)


def _save_model_artifact(
    model: TrainedModel, result: training.TrainingResult
) -> tuple[str, artifacts.ArtifactInfo]:
    """Save under ``models/<owner>/<id>-<sha prefix>.joblib``: the name carries the
    hash, so a changed file is easy to spot and a new version never overwrites one."""
    folder = f"models/{model.owner_id}"
    pending = f"{folder}/{model.pk}-{secrets.token_hex(4)}.joblib.pending"
    info = artifacts.save_artifact(
        media_path(pending),
        pipeline=result.pipeline,
        feature_schema=result.feature_schema,
        algorithm=model.algorithm.key,
    )
    final = f"{folder}/{model.pk}-{info.sha256[:12]}.joblib"
    try:
        os.replace(media_path(pending), media_path(final))
    except BaseException:
        _remove_media_file(pending)
        raise
    return final, info


def model_training_succeed(
    *,
    model_id: int,
    result: training.TrainingResult,
    timings: dict[str, float],
    artifact_name: str,
    artifact: artifacts.ArtifactInfo,
) -> bool:
    """``running → ready`` with the results; False (nothing written) when the model is
    no longer running or was deleted meanwhile."""
    with transaction.atomic():
        updated = TrainedModel.objects.filter(
            pk=model_id, status=TrainedModel.Status.RUNNING, deleted_at__isnull=True
        ).update(
            status=TrainedModel.Status.READY,
            progress=100,
            stage="done",
            error="",
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
            finished_at=timezone.now(),
        )
        if not updated:
            return False
        _activate_newest(TrainedModel.objects.get(pk=model_id))
    return True


def _activate_newest(model: TrainedModel) -> None:
    """The active-version rule: a version that becomes ready becomes the active one of
    its name, unless the active version was chosen by staff (set active or published)
    or is newer than this one."""
    siblings = TrainedModel.objects.select_for_update().filter(
        owner_id=model.owner_id, name=model.name, deleted_at__isnull=True
    )
    current = siblings.filter(is_active=True).exclude(pk=model.pk).first()
    if current is not None and (
        current.active_set_by_staff or current.is_public or current.version > model.version
    ):
        return
    # Deactivate first: the one-active-version constraint is checked per statement.
    siblings.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
    TrainedModel.objects.filter(pk=model.pk).update(is_active=True)


def _refund_training_fee(model_id: int, reason: str) -> None:
    fee = LedgerEntry.objects.filter(model_id=model_id, kind=LedgerEntry.Kind.TRAINING_FEE).first()
    if fee is not None:
        charge_refund(charge=fee, memo=f"Refund: {reason}"[:255])


def model_training_fail(
    *,
    model_id: int,
    error: str,
    statuses: tuple[str, ...] = (TrainedModel.Status.RUNNING,),
) -> bool:
    """Move the model from one of ``statuses`` to ``failed`` with ``error`` and refund
    its training fee, in one transaction. False when it was not in those statuses
    (finished already, or handled by someone else): nothing is written then, so the
    fee is refunded at most once."""
    with transaction.atomic():
        updated = TrainedModel.objects.filter(pk=model_id, status__in=statuses).update(
            status=TrainedModel.Status.FAILED,
            stage="failed",
            error=error[:5000],
            finished_at=timezone.now(),
        )
        if not updated:
            return False
        _refund_training_fee(model_id, f"training of model #{model_id} did not succeed")
    return True


def model_training_sweep(*, now=None) -> dict[str, list[int]]:
    """Fail and refund models ``running`` past the task timeout (their worker died);
    enqueue again models ``queued`` for longer than QUEUED_STALE_SECONDS (a lost
    message); give up on those enqueued MAX_ENQUEUE_ATTEMPTS times."""
    now = now or timezone.now()
    running_limit = settings.TASK_TIMEOUT + SWEEP_MARGIN_SECONDS
    stuck = TrainedModel.objects.filter(
        status=TrainedModel.Status.RUNNING, started_at__lt=now - timedelta(seconds=running_limit)
    ).values_list("pk", flat=True)
    failed: list[int] = []
    for pk in list(stuck):
        if model_training_fail(
            model_id=pk,
            error=(
                f"Training did not finish within {settings.TASK_TIMEOUT} seconds "
                "(it took too long or its worker stopped); the fee was refunded."
            ),
        ):
            failed.append(pk)
            job_event(
                "training", pk, "swept", from_status="running", to_status="failed", level=logging.WARNING
            )

    stale_before = now - timedelta(seconds=settings.QUEUED_STALE_SECONDS)
    stale = TrainedModel.objects.filter(status=TrainedModel.Status.QUEUED, deleted_at__isnull=True).filter(
        Q(enqueued_at__lt=stale_before) | Q(enqueued_at__isnull=True, created_at__lt=stale_before)
    )
    requeued: list[int] = []
    for model in stale:
        if model.attempts >= MAX_ENQUEUE_ATTEMPTS:
            if model_training_fail(
                model_id=model.pk,
                error=f"Training never started after {model.attempts} attempts; the fee was refunded.",
                statuses=(TrainedModel.Status.QUEUED,),
            ):
                failed.append(model.pk)
                job_event(
                    "training",
                    model.pk,
                    "swept",
                    from_status="queued",
                    to_status="failed",
                    level=logging.WARNING,
                )
            continue
        with transaction.atomic():
            # Conditional on what we read: a worker that claimed it meanwhile wins.
            claimed = TrainedModel.objects.filter(
                pk=model.pk, status=TrainedModel.Status.QUEUED, attempts=model.attempts
            ).update(enqueued_at=now, attempts=F("attempts") + 1)
            if claimed:
                _enqueue_training(model)
                requeued.append(model.pk)
                job_event("training", model.pk, "requeued", attempts=model.attempts + 1)
    return {"failed": failed, "requeued": requeued}


# --- Trained models: owner and staff actions --------------------------------------------------


def model_delete(*, model: TrainedModel) -> None:
    """Soft delete: the row stays for the ledger, the artifact file goes, the version is
    no longer active. A model deleted before its training finished is failed and its
    fee refunded (its result would be thrown away)."""
    with transaction.atomic():
        updated = TrainedModel.objects.filter(pk=model.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), is_active=False, active_set_by_staff=False
        )
        if not updated:
            return
        model_training_fail(
            model_id=model.pk,
            error="Deleted before training finished; the fee was refunded.",
            statuses=(TrainedModel.Status.QUEUED, TrainedModel.Status.RUNNING),
        )
        artifact_name = model.artifact
        transaction.on_commit(lambda: _remove_media_file(artifact_name))
    model.refresh_from_db()


def _require_ready(model: TrainedModel, field: str, action: str) -> None:
    if model.deleted_at is not None:
        raise InvalidInput(f"A deleted model cannot be {action}.", {field: ["the model was deleted"]})
    if model.status != TrainedModel.Status.READY:
        message = f"Only a ready model can be {action}; this one is {model.status}."
        raise InvalidInput(message, {field: [message]})


def model_set_active(*, model: TrainedModel) -> TrainedModel:
    """Make ``model`` the active version of its name (staff's choice: a newer version
    that becomes ready later does not replace it). Deactivates the others in the same
    transaction."""
    _require_ready(model, "is_active", "made active")
    with transaction.atomic():
        TrainedModel.objects.filter(owner_id=model.owner_id, name=model.name, is_active=True).exclude(
            pk=model.pk
        ).update(is_active=False, active_set_by_staff=False)
        TrainedModel.objects.filter(pk=model.pk).update(is_active=True, active_set_by_staff=True)
    model.refresh_from_db()
    return model


def model_deactivate(*, model: TrainedModel) -> TrainedModel:
    """No version of this name is active until another is made active or becomes ready."""
    TrainedModel.objects.filter(pk=model.pk).update(is_active=False, active_set_by_staff=False)
    model.refresh_from_db()
    return model


def _price_per_row(value: Any) -> Decimal:
    field = "price_per_row"
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput("price_per_row: not a number.", {field: ["A valid number is required."]}) from None
    if isinstance(value, (bool, float)) or not price.is_finite():
        raise InvalidInput("price_per_row: not a number.", {field: ['Send a decimal string such as "0.01".']})
    if price < 0:
        raise InvalidInput("price_per_row: must not be negative.", {field: ["Must be 0 or more."]})
    if price != price.quantize(Decimal("0.0001")):
        raise InvalidInput("price_per_row: too many decimals.", {field: ["Use at most 4 decimal places."]})
    if price >= Decimal("100000000"):
        raise InvalidInput("price_per_row: too large.", {field: ["Must be below 100000000."]})
    return price.quantize(Decimal("0.0001"))


def model_update_by_staff(
    *,
    model: TrainedModel,
    is_public: bool | None = None,
    price_per_row: Any = None,
    is_active: bool | None = None,
) -> TrainedModel:
    """Staff publish or unpublish a model, set its price per row and choose the active
    version. Publishing makes the version active too: the public catalog lists active
    versions only, and a published version is never replaced automatically."""
    if is_public and is_active is False:
        raise InvalidInput(
            "A published version must be the active one.",
            {"is_active": ["Publishing makes this version active; do not send is_active false with it."]},
        )
    price = _price_per_row(price_per_row) if price_per_row is not None else None
    if is_public:
        _require_ready(model, "is_public", "published")
    if is_active:
        _require_ready(model, "is_active", "made active")
    with transaction.atomic():
        if price is not None:
            TrainedModel.objects.filter(pk=model.pk).update(price_per_row=price)
        if is_active or (is_public and not model.is_active):
            model_set_active(model=model)
        elif is_active is False and model.is_active:
            model_deactivate(model=model)
        if is_public is not None:
            TrainedModel.objects.filter(pk=model.pk).update(is_public=is_public)
            if is_public:
                TrainedModel.objects.filter(pk=model.pk).update(active_set_by_staff=True)
    model.refresh_from_db()
    return model

"""Training requests: every check made before anything is charged, then the model
created ``queued``, charged and enqueued in one transaction — with an Idempotency-Key
replayed before any check, from the API and the web form alike; and the owner's
cancel of a training that has not finished."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from billing.models import LedgerEntry
from billing.services import account_debit
from core.errors import Conflict, InvalidInput, errors_summary
from core.idempotency import idempotent_call, idempotent_replay, request_fingerprint
from core.jobs.lifecycle import QUEUED, RUNNING, job_cancel, job_enqueue, job_submitted
from mlmodels.jobs import TRAINING
from mlmodels.ml import catalog, preprocessing, targets
from mlmodels.ml.crossval import MAX_CV_FOLDS, MIN_CV_FOLDS
from mlmodels.ml.errors import DatasetError, HyperparameterError, TargetError, TrainingError
from mlmodels.ml.schema import coerce_column
from mlmodels.models import Algorithm, Dataset, TrainedModel
from mlmodels.services.datasets import dataset_frame
from mlmodels.services.files import sentence
from webhooks.models import Resource
from webhooks.services import WebhookTarget, webhook_subscribe, webhook_target_for_submission

IDEMPOTENCY_SCOPE = "models"


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
    cv_folds: int | None = None
    refit_full: bool = True


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
    cv_folds: Any = None,
    refit_full: Any = None,
) -> TrainingRequest:
    """Check a training request completely, before anything is charged: the dataset is
    the caller's and ready, the target exists and suits the algorithm's task (via the
    engine's ``check_target`` on the stored data), the algorithm is offered and
    enabled, the hyperparameters pass the catalog's validator, the split and seed are
    in range, the features are columns other than the target and ``cv_folds`` (None:
    no cross-validation) is from MIN_CV_FOLDS to MAX_CV_FOLDS.

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

    dataset_obj = check_dataset(user, dataset, add)

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
        test_size = targets.DEFAULT_TEST_SIZE
    if not _is_number(test_size) or not math.isfinite(test_size):
        add("test_size", f"Must be a number from {targets.MIN_TEST_SIZE} to {targets.MAX_TEST_SIZE}.")
    elif not targets.MIN_TEST_SIZE <= float(test_size) <= targets.MAX_TEST_SIZE:
        add(
            "test_size",
            f"Must be from {targets.MIN_TEST_SIZE} to {targets.MAX_TEST_SIZE} (got {test_size}).",
        )

    if random_state is None:
        random_state = targets.DEFAULT_RANDOM_STATE
    if not _is_int(random_state):
        add("random_state", "Must be a whole number.")
    elif not 0 <= int(random_state) <= targets.MAX_RANDOM_STATE:
        add("random_state", f"Must be from 0 to {targets.MAX_RANDOM_STATE}.")

    if cv_folds is not None and (not _is_int(cv_folds) or not MIN_CV_FOLDS <= cv_folds <= MAX_CV_FOLDS):
        add("cv_folds", f"Must be a whole number from {MIN_CV_FOLDS} to {MAX_CV_FOLDS}, or left out.")
    if refit_full is None:
        refit_full = True
    elif not isinstance(refit_full, bool):
        add("refit_full", "Must be true or false.")

    columns = dataset_obj.column_names if dataset_obj is not None else []
    target_ok = check_target_column(dataset_obj, target, add)
    if target_ok:
        target = target.strip()

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
        if summary is not None:
            combination = catalog.check_for_target(
                algorithm_obj.key,
                cleaned_parameters,
                target=target,
                n_classes=len(summary.classes) if summary.classes is not None else None,
            )
            for field, messages in combination.items():
                for message in messages:
                    add(field, message)
            check_encoded_size_from_profile(
                dataset_obj,
                target=target,
                features=features if isinstance(features, list) else None,
                native_categorical=catalog.get_algorithm(algorithm_obj.key).native_categorical,
                rows=summary.rows_used,
                add=add,
            )

    if errors:
        raise InvalidInput(errors_summary(errors), errors)
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
        cv_folds=cv_folds,
        refit_full=refit_full,
    )


def check_encoded_size_from_profile(
    dataset: Dataset, *, target: str, features: list[str] | None, native_categorical: bool, rows: int, add
) -> None:
    """The engine's bound on rows x encoded columns (TRAINING_MAX_ENCODED_CELLS), checked
    before the charge from the dataset's profile (its distinct counts), choosing the
    columns as the engine will. A dataset not profiled yet is checked by the engine when
    the job runs (and a refusal there is refunded)."""
    profile = dataset.profile or {}
    columns = {column["name"]: column for column in profile.get("columns", [])}
    if not columns:
        return
    names = features if features is not None else [name for name in columns if name != target]
    counts = []
    for name in names:
        column = columns.get(name)
        if column is None:
            continue
        distinct = int(column.get("unique", 0))
        present = int(profile.get("rows", 0)) - int(column.get("missing", 0)) - int(column.get("invalid", 0))
        if features is None and preprocessing.drop_reason_by_counts(
            column["kind"], distinct=distinct, present=present, rows=int(profile.get("rows", 0))
        ):
            continue
        counts.append((column["kind"], distinct))
    try:
        preprocessing.check_encoded_size(
            counts,
            rows=rows,
            native_categorical=native_categorical,
            limit=settings.TRAINING_MAX_ENCODED_CELLS,
        )
    except TrainingError as error:
        add("features", error.message)


def check_dataset(user, dataset: Any, add) -> Dataset | None:
    """The user's dataset named by ``dataset`` (an id or a Dataset), or None after
    ``add``-ing why not. A dataset still being profiled is fine: training reads the
    stored file, not the profile, and an API script uploads and trains at once."""
    dataset_id = dataset.pk if isinstance(dataset, Dataset) else dataset
    if dataset_id in (None, ""):
        add("dataset", "Choose a dataset.")
        return None
    found = Dataset.objects.filter(pk=dataset_id, owner=user).first() if _is_int(dataset_id) else None
    if found is None:
        add("dataset", f"You have no dataset with id {dataset_id}.")
        return None
    if found.status == Dataset.Status.FAILED:
        add("dataset", f"The dataset could not be profiled: {found.error}")
        return None
    return found


def check_target_column(dataset: Dataset | None, target: Any, add) -> bool:
    """True when ``target`` names a column of ``dataset``; otherwise ``add`` says why."""
    if not isinstance(target, str) or not target.strip():
        add("target", "Choose the column to predict.")
        return False
    if dataset is None:
        return False
    columns = dataset.column_names
    if target.strip() not in columns:
        listed = ", ".join(columns[:20]) + (", …" if len(columns) > 20 else "")
        add("target", f"The dataset has no column '{target.strip()}'; its columns are: {listed}.")
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_target(dataset: Dataset, target: str, algorithm: Algorithm, add) -> targets.TargetSummary | None:
    try:
        frame = dataset_frame(dataset, [target])
    except FileNotFoundError:
        add("dataset", "The dataset's file is missing; upload the data again.")
        return None
    except DatasetError as error:
        add("dataset", sentence(error.message))
        return None
    try:
        summary = targets.check_target(frame, target, algorithm.task)
    except TargetError as error:
        for field, messages in (error.errors or {"target": [error.message]}).items():
            for message in messages:
                add(field, message)
        other = "regression" if algorithm.task == "classification" else "classification"
        try:
            targets.check_target(frame, target, other)
        except TargetError:
            pass
        else:
            add(
                "algorithm",
                f"{algorithm.name} is a {algorithm.task} algorithm, but '{target}' suits {other}: "
                f"choose a {other} algorithm.",
            )
        return None
    suits = target_task_of(dataset, frame, target)
    if algorithm.task not in suits.tasks:
        wanted = " or ".join(suits.tasks)
        add(
            "algorithm",
            f"{algorithm.name} is a {algorithm.task} algorithm, but '{target}' has {suits.description}"
            + (f": choose a {wanted} algorithm." if wanted else "."),
        )
        return None
    return summary


def target_task_of(dataset: Dataset, frame, target: str) -> targets.TargetTask:
    """The tasks ``target`` suits (targets.target_task), from its kind and its distinct
    values in the stored data."""
    kind = next((column["kind"] for column in dataset.columns if column["name"] == target), "categorical")
    values, _ = coerce_column(frame[target], kind)
    return targets.target_task(kind, int(values.dropna().nunique()))


def model_submit(
    *,
    user,
    request: TrainingRequest,
    charge: bool = True,
    enqueue: bool = True,
    experiment=None,
    experiment_trial: int | None = None,
    webhook: WebhookTarget | None = None,
) -> TrainedModel:
    """Create the model (``queued``, the next version of its name), charge the
    algorithm's training price and enqueue the training task on commit — all in one
    transaction: InsufficientFunds (402) leaves nothing behind.

    ``charge=False`` and ``enqueue=False`` are for the demo catalog, which trains
    operator models synchronously and for free (see the seed_demo command), and for an
    experiment's winner, which its experiment paid for and trains itself.
    """
    price = request.algorithm.training_price if charge else Decimal("0.00")
    for attempt in range(3):
        try:
            with transaction.atomic():
                latest = TrainedModel.objects.filter(owner=user, name=request.name).aggregate(Max("version"))
                version = (latest["version__max"] or 0) + 1
                # A new version keeps the words its owner wrote about the model.
                earlier = (
                    TrainedModel.objects.filter(owner=user, name=request.name, deleted_at__isnull=True)
                    .order_by("-version")
                    .values("description", "model_card")
                    .first()
                ) or {}
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
                    cv_folds=request.cv_folds,
                    refit_full=request.refit_full,
                    experiment=experiment,
                    experiment_trial=experiment_trial,
                    training_fee=price,
                    price_per_row=settings.DEFAULT_PRICE_PER_ROW,
                    description=earlier.get("description", ""),
                    model_card=earlier.get("model_card", ""),
                    # A version becomes active when it is ready (training_succeed).
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
                job_submitted(TRAINING, model)
                webhook_subscribe(target=webhook, owner=user, resource=Resource.MODEL, job_id=model.pk)
                if enqueue:
                    job_enqueue(TRAINING, model.pk)
            return model
        except IntegrityError:
            # Two submissions raced for the same next version; count again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@dataclass
class TrainingSubmission:
    model: TrainedModel
    replayed: bool = False  # an Idempotency-Key retry answered with the first model


def model_train(
    *,
    user,
    idempotency_key: str | None = None,
    experiment=None,
    experiment_trial: int | None = None,
    webhook: str | None = None,
    webhook_events: list[str] | None = None,
    **fields: Any,
) -> TrainingSubmission:
    """Validate a training request (``fields`` as training_validate takes them), then
    charge, create and enqueue it (model_submit). With an ``idempotency_key``, a retry
    of a request that succeeded is answered with its model before any check — even if
    its dataset was deleted since — and is not charged again; the same key with other
    fields is a 409. ``experiment`` and ``experiment_trial`` link a promoted trial.
    ``webhook`` and ``webhook_events`` are checked with the rest, before the charge.
    """
    link = {"experiment": experiment.pk, "trial": experiment_trial} if experiment is not None else {}
    fingerprint = request_fingerprint({**fields, **link}) if idempotency_key else ""
    earlier = idempotent_replay(
        user=user, scope=IDEMPOTENCY_SCOPE, key=idempotency_key, fingerprint=fingerprint
    )
    if earlier is not None:
        return TrainingSubmission(
            model=TrainedModel.objects.get(pk=earlier.body["id"], owner=user), replayed=True
        )
    request = training_validate(user=user, **fields)
    target = webhook_target_for_submission(user=user, url=webhook, events=webhook_events)
    created: list[TrainedModel] = []

    def submit() -> tuple[int, dict]:
        model = model_submit(
            user=user,
            request=request,
            experiment=experiment,
            experiment_trial=experiment_trial,
            webhook=target,
        )
        created.append(model)
        return 202, {"id": model.pk, "status": model.status, "cost": str(model.training_fee)}

    answer = idempotent_call(
        user=user, scope=IDEMPOTENCY_SCOPE, key=idempotency_key, fingerprint=fingerprint, call=submit
    )
    if answer.replayed:  # a concurrent twin with the same key committed first
        return TrainingSubmission(
            model=TrainedModel.objects.get(pk=answer.body["id"], owner=user), replayed=True
        )
    return TrainingSubmission(model=created[0])


def model_cancel(*, model: TrainedModel) -> TrainedModel:
    """Stop a training that has not finished, and refund its fee, in one transaction
    (core.jobs.lifecycle.job_cancel). A queued model never starts; a running one stops
    at its worker's next progress report (the reporter raises once the model is no
    longer running, within a tree batch or a boosting iteration) and its result is
    thrown away. 409 once it has finished. The caller checks ownership (selectors)."""
    moved = job_cancel(
        TRAINING,
        model.pk,
        error="Canceled by its owner before training finished.",
        states=(QUEUED, RUNNING),
        stage="canceled",
    )
    model.refresh_from_db()
    if not moved:
        raise Conflict(
            f"This model is {model.status}; only a queued or running training can be canceled.",
            {"status": [f"The model is {model.status}."]},
        )
    return model

"""Experiment requests: every check made before anything is charged, then the
experiment created ``queued``, charged for its trial cap and enqueued in one
transaction; cancel; and promoting a trial to a model version (a paid training).
The worker's side is experiment_job.py; the search itself is mlmodels.ml.search."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from billing.models import LedgerEntry
from billing.services import CENT, account_debit, cost_within_ledger
from core.errors import Conflict, InvalidInput, errors_summary
from core.idempotency import idempotent_call, idempotent_replay, request_fingerprint
from core.jobs.lifecycle import job_cancel, job_enqueue, job_submitted
from mlmodels.jobs import EXPERIMENT
from mlmodels.ml import catalog, search, search_plan, targets
from mlmodels.ml.errors import DatasetError, MLError, TargetError
from mlmodels.models import Algorithm, Dataset, Experiment, ExperimentSettings, ExperimentTrial
from mlmodels.services.datasets import dataset_frame
from mlmodels.services.files import sentence
from mlmodels.services.training import (
    TrainingRequest,
    TrainingSubmission,
    check_dataset,
    check_target_column,
    model_train,
)
from webhooks.models import Resource
from webhooks.services import WebhookTarget, webhook_subscribe, webhook_target_for_submission

IDEMPOTENCY_SCOPE = "experiments"
# A numeric target with at most this many distinct whole values is taken for classes
# when the request names no algorithm (0/1, ratings 1–5, …).
MAX_CLASSES_OF_NUMBERS = 20


def time_budget_limit() -> int:
    """The longest search a request may ask for: the API's 3,600 s, and at most half the
    task timeout, which the winner's training and the last trial share with it."""
    return max(1, min(search_plan.MAX_TIME_BUDGET_SECONDS, settings.TASK_TIMEOUT // 2))


def experiment_price_per_trial() -> Decimal:
    """The operator's price per trial (admin → Experiment settings), or else the
    cheapest enabled algorithm's training price."""
    configured = ExperimentSettings.objects.values_list("price_per_trial", flat=True).first()
    if configured is None:
        cheapest = Algorithm.objects.filter(enabled=True, in_catalog=True).aggregate(Min("training_price"))
        configured = cheapest["training_price__min"] or Decimal("0")
    # Aggregates may come back without their decimal places (SQLite).
    return Decimal(configured).quantize(CENT)


@dataclass(frozen=True)
class ExperimentRequest:
    """An experiment request that passed every check that can be made before charging."""

    name: str
    dataset: Dataset
    target: str
    plan: search_plan.SearchPlan
    random_state: int
    price_per_trial: Decimal

    @property
    def cost(self) -> Decimal:
        cost = (self.price_per_trial * self.plan.max_trials).quantize(CENT)
        return cost_within_ledger(cost, how=f"{self.plan.max_trials} trials × {self.price_per_trial}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _chosen_algorithms(algorithms: Any, add) -> list[Algorithm] | None:
    """The enabled algorithms a request names (None: it names none), in its order."""
    if algorithms is None:
        return None
    if not isinstance(algorithms, list) or not all(isinstance(key, str) for key in algorithms):
        add("algorithms", "Must be a list of algorithm keys.")
        return []
    if not algorithms:
        add("algorithms", "Choose at least one algorithm, or leave the list out to try every one.")
        return []
    keys = list(dict.fromkeys(algorithms))
    offered = {
        algorithm.key: algorithm for algorithm in Algorithm.objects.filter(key__in=keys, in_catalog=True)
    }
    chosen = []
    for key in keys:
        algorithm = offered.get(key)
        if algorithm is None or key not in catalog.ALGORITHMS:
            add("algorithms", f"Unknown algorithm '{key}'; choose from: {', '.join(catalog.ALGORITHMS)}.")
        elif not algorithm.enabled:
            add("algorithms", f"{algorithm.name} ({key}) is disabled on this service; leave it out.")
        else:
            chosen.append(algorithm)
    tasks = {algorithm.task for algorithm in chosen}
    if len(tasks) > 1:
        add("algorithms", "Choose classification or regression algorithms, not both.")
    return chosen


def _target_frame(dataset: Dataset, target: str, add) -> pd.DataFrame | None:
    try:
        return dataset_frame(dataset, [target])
    except FileNotFoundError:
        add("dataset", "The dataset's file is missing; upload the data again.")
    except DatasetError as error:
        add("dataset", sentence(error.message))
    return None


def _task_of_target(frame: pd.DataFrame, target: str, add) -> str | None:
    """The task a target suits when the request names no algorithm: classes for text,
    yes/no and a few whole numbers, regression for other numbers."""
    suits: dict[str, targets.TargetSummary | TargetError] = {}
    for task in targets.TASKS:
        try:
            suits[task] = targets.check_target(frame, target, task)
        except TargetError as error:
            suits[task] = error
    classes, numbers = suits["classification"], suits["regression"]
    if isinstance(numbers, TargetError) and isinstance(classes, TargetError):
        add("target", sentence(classes.message))
        return None
    if isinstance(numbers, TargetError):
        return "classification"
    if isinstance(classes, TargetError):
        return "regression"
    values = pd.to_numeric(frame[target], errors="coerce").dropna()
    whole = bool((values == values.round()).all())
    return "classification" if whole and values.nunique() <= MAX_CLASSES_OF_NUMBERS else "regression"


def _check_target_for(frame: pd.DataFrame, target: str, task: str, add) -> bool:
    """True when ``target`` suits the chosen algorithms' ``task``; otherwise ``add``
    says why — on ``algorithms`` when the target suits the other task."""
    try:
        targets.check_target(frame, target, task)
        return True
    except TargetError as error:
        problem = error
    other = "regression" if task == "classification" else "classification"
    try:
        targets.check_target(frame, target, other)
    except TargetError:
        add("target", sentence(problem.message))
        return False
    add("algorithms", f"These are {task} algorithms, but '{target}' suits {other}: choose {other} ones.")
    return False


def experiment_validate(
    *,
    user,
    dataset: Any,
    target: Any,
    algorithms: Any = None,
    max_trials: Any = None,
    time_budget_seconds: Any = None,
    metric: Any = None,
    cv_folds: Any = None,
    random_state: Any = None,
    name: Any = None,
) -> ExperimentRequest:
    """Check an experiment request completely, before anything is charged. Raises
    InvalidInput with every problem found, keyed by the API's field names."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    dataset_obj = check_dataset(user, dataset, add)
    target_ok = check_target_column(dataset_obj, target, add)
    chosen = _chosen_algorithms(algorithms, add)
    if name is not None and (not isinstance(name, str) or len(name.strip()) > 100):
        add("name", "At most 100 characters.")
    if random_state is None:
        random_state = targets.DEFAULT_RANDOM_STATE
    elif not _is_int(random_state) or not 0 <= random_state <= targets.MAX_RANDOM_STATE:
        add("random_state", f"Must be a whole number from 0 to {targets.MAX_RANDOM_STATE}.")
    limit = time_budget_limit()
    # Above the engine's own maximum the engine says so; between the two, this does.
    if _is_int(time_budget_seconds) and limit < time_budget_seconds <= search_plan.MAX_TIME_BUDGET_SECONDS:
        add(
            "time_budget_seconds",
            f"At most {limit} seconds on this service (half its task timeout of {settings.TASK_TIMEOUT} s).",
        )

    task = None
    if target_ok and dataset_obj is not None and chosen != []:
        target = target.strip()
        frame = _target_frame(dataset_obj, target, add)
        if frame is not None:
            if chosen:
                task = chosen[0].task if _check_target_for(frame, target, chosen[0].task, add) else None
            else:
                task = _task_of_target(frame, target, add)

    plan = None
    keys = [algorithm.key for algorithm in chosen] if chosen else None
    if task is not None and keys is None:
        keys = list(
            Algorithm.objects.filter(task=task, enabled=True, in_catalog=True)
            .filter(key__in=list(catalog.ALGORITHMS))
            .values_list("key", flat=True)
        )
        if not keys:
            add("algorithms", f"No {task} algorithm is enabled on this service.")
    try:
        plan = search.check_search(
            task or "classification",
            algorithms=keys,
            metric=metric,
            max_trials=search_plan.DEFAULT_MAX_TRIALS if max_trials is None else max_trials,
            time_budget_seconds=search_plan.DEFAULT_TIME_BUDGET_SECONDS
            if time_budget_seconds is None
            else time_budget_seconds,
            cv_folds=search_plan.DEFAULT_CV_FOLDS if cv_folds is None else cv_folds,
            random_state=random_state if _is_int(random_state) else None,
        )
    except MLError as error:
        for field, messages in (error.errors or {"experiment": [error.message]}).items():
            # A metric or algorithm judged against a task we could not tell is noise.
            if task is None and field in ("metric", "algorithms"):
                continue
            for message in messages:
                add(field, sentence(message))

    if errors:
        raise InvalidInput(errors_summary(errors), errors)
    assert dataset_obj is not None and plan is not None
    default_name = f"{dataset_obj.name} · {target}"[:100]
    return ExperimentRequest(
        name=(name or "").strip() or default_name,
        dataset=dataset_obj,
        target=target,
        plan=plan,
        random_state=int(random_state),
        price_per_trial=experiment_price_per_trial(),
    )


def experiment_submit(
    *, user, request: ExperimentRequest, webhook: WebhookTarget | None = None
) -> Experiment:
    """Create the experiment ``queued``, charge price × max_trials and enqueue it on
    commit, in one transaction: InsufficientFunds (402) leaves nothing behind."""
    plan = request.plan
    with transaction.atomic():
        now = timezone.now()
        experiment = Experiment.objects.create(
            owner=user,
            name=request.name,
            dataset=request.dataset,
            dataset_name=request.dataset.name,
            target=request.target,
            task=plan.task,
            algorithms=list(plan.algorithms),
            metric=plan.metric,
            max_trials=plan.max_trials,
            time_budget_seconds=int(plan.time_budget_seconds),
            cv_folds=plan.cv_folds,
            random_state=request.random_state,
            price_per_trial=request.price_per_trial,
            cost=request.cost,
            enqueued_at=now,
            attempts=1,
            created_at=now,
        )
        if request.cost > 0:
            account_debit(
                user=user,
                amount=request.cost,
                kind=LedgerEntry.Kind.EXPERIMENT_CHARGE,
                memo=f"Experiment #{experiment.pk}: up to {plan.max_trials} trials on {request.dataset.name}",
                experiment=experiment,
            )
        job_submitted(EXPERIMENT, experiment)
        webhook_subscribe(target=webhook, owner=user, resource=Resource.EXPERIMENT, job_id=experiment.pk)
        job_enqueue(EXPERIMENT, experiment.pk)
    return experiment


@dataclass
class ExperimentSubmission:
    experiment: Experiment
    replayed: bool = False  # an Idempotency-Key retry answered with the first experiment


def experiment_start(
    *,
    user,
    idempotency_key: str | None = None,
    webhook: str | None = None,
    webhook_events: list[str] | None = None,
    **fields: Any,
) -> ExperimentSubmission:
    """Validate, charge, create and enqueue an experiment. With an ``idempotency_key``
    a retry is answered with the first experiment before any check and is not charged
    again; the same key with other fields is a 409."""
    fingerprint = request_fingerprint(fields) if idempotency_key else ""
    earlier = idempotent_replay(
        user=user, scope=IDEMPOTENCY_SCOPE, key=idempotency_key, fingerprint=fingerprint
    )
    if earlier is not None:
        return ExperimentSubmission(Experiment.objects.get(pk=earlier.body["id"], owner=user), replayed=True)
    request = experiment_validate(user=user, **fields)
    target = webhook_target_for_submission(user=user, url=webhook, events=webhook_events)
    created: list[Experiment] = []

    def submit() -> tuple[int, dict]:
        experiment = experiment_submit(user=user, request=request, webhook=target)
        created.append(experiment)
        return 202, {"id": experiment.pk, "status": experiment.status, "cost": str(experiment.cost)}

    answer = idempotent_call(
        user=user, scope=IDEMPOTENCY_SCOPE, key=idempotency_key, fingerprint=fingerprint, call=submit
    )
    if answer.replayed:
        return ExperimentSubmission(Experiment.objects.get(pk=answer.body["id"], owner=user), replayed=True)
    return ExperimentSubmission(created[0])


def experiment_cancel(*, experiment: Experiment) -> Experiment:
    """Queued: canceled at once and refunded in full. Running: the worker stops after
    the trial it is running and refunds the trials not run. Finished: 409."""
    stopped = job_cancel(
        EXPERIMENT, experiment.pk, error="Canceled before it started; the charge was refunded."
    )
    if not stopped:
        Experiment.objects.filter(
            pk=experiment.pk, status=Experiment.Status.RUNNING, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=timezone.now())
    experiment.refresh_from_db()
    if experiment.is_finished and not stopped:
        raise Conflict(
            f"This experiment has {experiment.status}; only a queued or running one can be canceled.",
            {"status": [f"The experiment is {experiment.status}."]},
        )
    return experiment


def experiment_promote(
    *, user, experiment: Experiment, trial: Any, idempotency_key: str | None = None
) -> TrainingSubmission:
    """Train a leaderboard row as a model version of the experiment's name, on the
    experiment's split: an ordinary, paid training (the algorithm's price)."""
    if not _is_int(trial):
        raise InvalidInput("trial: a trial number is required.", {"trial": ["Give the trial's number."]})
    row = ExperimentTrial.objects.filter(experiment=experiment, number=trial).first()
    if row is None:
        raise InvalidInput(
            f"Experiment #{experiment.pk} has no trial {trial}.", {"trial": [f"There is no trial {trial}."]}
        )
    if row.state != ExperimentTrial.State.COMPLETE:
        raise InvalidInput(
            f"Trial {trial} was {row.state}; only a complete trial can be promoted.",
            {"trial": [f"Trial {trial} was {row.state}; choose a complete one."]},
        )
    if experiment.dataset_id is None:
        raise Conflict(
            "The experiment's dataset was deleted; upload it again to train this trial.",
            {"dataset": ["The dataset was deleted."]},
        )
    return model_train(
        user=user,
        idempotency_key=idempotency_key,
        name=experiment.name,
        dataset=experiment.dataset_id,
        target=experiment.target,
        algorithm=row.algorithm,
        hyperparameters=row.hyperparameters,
        random_state=experiment.random_state,
        test_size=experiment.test_size,
        experiment=experiment,
        experiment_trial=row.number,
    )


def winner_request(experiment: Experiment, trial: ExperimentTrial) -> TrainingRequest:
    """The training request of an experiment's winner (checked already by its search)."""
    algorithm = Algorithm.objects.get(key=trial.algorithm)
    assert experiment.dataset is not None
    return TrainingRequest(
        name=experiment.name,
        dataset=experiment.dataset,
        target=experiment.target,
        algorithm=algorithm,
        hyperparameters=catalog.validate_hyperparameters(algorithm.key, trial.hyperparameters),
        test_size=experiment.test_size,
        random_state=experiment.random_state,
        features=None,
        rows_used=0,
        classes=None,
    )

"""What a search is asked to do, checked before anything runs (cheap enough for a web
request): the task, algorithms, metric, trial and time budget, folds and seed."""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass
from typing import Any

from .catalog import ALGORITHMS
from .crossval import GREATER_IS_BETTER, MAX_CV_FOLDS, METRICS, MIN_CV_FOLDS
from .errors import SearchError
from .schema import TASKS
from .targets import DEFAULT_RANDOM_STATE, MAX_RANDOM_STATE

MIN_TRIALS, MAX_TRIALS, DEFAULT_MAX_TRIALS = 1, 500, 30
MIN_TIME_BUDGET_SECONDS, MAX_TIME_BUDGET_SECONDS = 1, 3600
DEFAULT_TIME_BUDGET_SECONDS = 600
DEFAULT_CV_FOLDS = 5


@dataclass(frozen=True)
class SearchPlan:
    task: str
    algorithms: list[str]  # cheapest first
    metric: str
    greater_is_better: bool
    max_trials: int
    time_budget_seconds: float | None  # None: no time limit, only max_trials
    cv_folds: int
    random_state: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_metric(task: str) -> str:
    """ROC AUC (macro one-vs-rest for several classes) or RMSE."""
    return METRICS[task][0]


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_search(
    task: str,
    *,
    algorithms: list[str] | None = None,
    metric: str | None = None,
    max_trials: int = DEFAULT_MAX_TRIALS,
    time_budget_seconds: float | None = DEFAULT_TIME_BUDGET_SECONDS,
    cv_folds: int = DEFAULT_CV_FOLDS,
    random_state: int | None = None,
) -> SearchPlan:
    """The checked plan, or SearchError listing every problem under its field name.
    ``algorithms`` None means every algorithm of the task in the catalog."""
    if task not in TASKS:
        raise SearchError(f"Unknown task {task!r}.", {"task": [f"must be one of: {', '.join(TASKS)}"]})
    errors: dict[str, list[str]] = {}
    of_task = [key for key, spec in ALGORITHMS.items() if spec.task == task]
    if algorithms is None:
        chosen = of_task
    elif not isinstance(algorithms, list) or not algorithms:
        errors["algorithms"] = ["choose at least one algorithm"]
        chosen = []
    else:
        chosen = []
        for key in algorithms:
            if key not in ALGORITHMS:
                errors.setdefault("algorithms", []).append(
                    f"unknown algorithm {key!r}; choose from: {', '.join(of_task)}"
                )
            elif ALGORITHMS[key].task != task:
                errors.setdefault("algorithms", []).append(
                    f"{key!r} is a {ALGORITHMS[key].task} algorithm; this is {task}"
                )
            elif key not in chosen:
                chosen.append(key)
    # Cheapest first, catalog order among equals.
    order = list(ALGORITHMS)
    chosen.sort(key=lambda key: (ALGORITHMS[key].search_cost, order.index(key)))

    if metric is None:
        metric = default_metric(task)
    elif metric not in METRICS[task]:
        errors["metric"] = [f"unknown metric {metric!r} for {task}; choose from: {', '.join(METRICS[task])}"]
    if not _whole(max_trials) or not MIN_TRIALS <= max_trials <= MAX_TRIALS:
        errors["max_trials"] = [f"must be a whole number from {MIN_TRIALS} to {MAX_TRIALS}"]
    if time_budget_seconds is not None and (
        isinstance(time_budget_seconds, bool)
        or not isinstance(time_budget_seconds, numbers.Real)
        or not MIN_TIME_BUDGET_SECONDS <= time_budget_seconds <= MAX_TIME_BUDGET_SECONDS
    ):
        errors["time_budget_seconds"] = [
            f"must be a number of seconds from {MIN_TIME_BUDGET_SECONDS} to {MAX_TIME_BUDGET_SECONDS}"
        ]
    if not _whole(cv_folds) or not MIN_CV_FOLDS <= cv_folds <= MAX_CV_FOLDS:
        errors["cv_folds"] = [f"must be a whole number from {MIN_CV_FOLDS} to {MAX_CV_FOLDS}"]
    if random_state is None:
        random_state = DEFAULT_RANDOM_STATE
    elif not _whole(random_state) or not 0 <= random_state <= MAX_RANDOM_STATE:
        errors["random_state"] = [f"must be a whole number from 0 to {MAX_RANDOM_STATE}"]
    if errors:
        count = sum(len(messages) for messages in errors.values())
        raise SearchError(f"{count} problem{'s' if count != 1 else ''} with the search settings.", errors)
    return SearchPlan(
        task=task,
        algorithms=chosen,
        metric=metric,
        greater_is_better=GREATER_IS_BETTER[metric],
        max_trials=int(max_trials),
        time_budget_seconds=float(time_budget_seconds) if time_budget_seconds is not None else None,
        cv_folds=int(cv_folds),
        random_state=int(random_state),
    )

"""Hyperparameter search over several algorithms: optuna's TPE over the space the
catalog defines (space.py), each trial cross-validated on the training part only.

The holdout is split exactly as ``train_model`` splits it (holdout.py), so no fold
ever sees it; the caller then trains the winner once with ``train_model`` and the
same ``test_size`` and ``random_state``, and that holdout score is the honest one.

- Each algorithm's first trial is its default settings, cheapest algorithms first,
  so the leaderboard never loses to the defaults (default trials are never pruned).
- Fold by fold the running mean is reported to a MedianPruner; on big tables the
  folds first run on subsamples (successive halving, see ``rung_sizes``).
- A sampled combination the catalog refuses (logistic ``penalty`` with a ``solver``
  that lacks it, ``l1_ratio`` without elasticnet) is skipped before any fit: it does
  not count towards ``max_trials`` and is not listed. Optuna is told it was pruned
  with no score, which TPE ranks below every scored trial, so it learns to avoid the
  region (a *failed* trial would be ignored, and TPE kept proposing the same one).
- ``time_budget_seconds`` covers the search and the winner's final training: the
  search keeps back an estimate of that training's time (``_final_fit_estimate``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.pruners import MedianPruner
from optuna.samplers import TPESampler
from optuna.trial import TrialState
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from .catalog import ALGORITHMS, TRAINING_THREADS, check_for_target, validate_hyperparameters
from .crossval import METRICS, make_folds, summarise
from .errors import HyperparameterError, MLError, TrainingError
from .holdout import Rows, load_rows, split_holdout
from .preprocessing import check_encoded_size, feature_counts
from .search_plan import SearchPlan, check_search, default_metric
from .space import ALGORITHM_PARAMETER, default_point, search_space, suggest
from .trialfit import FoldOutcome, OutOfTime, fit_fold, merge_realised

__all__ = ["METRICS", "SearchPlan", "SearchResult", "TrialResult", "check_search", "default_metric"]
__all__ += ["run_search"]

# Successive halving on big tables: folds first run on a subsample of this many rows
# or more, then on RUNG_FACTOR times as many, up to the whole training part.
SUBSAMPLE_ABOVE_ROWS = 5000
MIN_RUNG_ROWS = 2500
RUNG_FACTOR = 3
# The support vector machine's fit grows with the square of the rows (and it is
# calibrated by 5 inner folds); beyond this many training rows it is left out.
SVC_MAX_ROWS = 10_000
# A trial may use at most this share of the search time left (the last one: all).
TRIAL_SHARE = 0.25
# The defaults are the reference every other trial must beat: they may use more.
DEFAULT_TRIAL_SHARE = 0.5
# train_model fits twice (training part, then every row) and computes importances.
FINAL_FIT_FACTOR = 2.5
MAX_INVALID_IN_A_ROW = 200
ERROR_LENGTH = 300


@dataclass
class TrialResult:
    number: int
    algorithm: str
    hyperparameters: dict[str, Any]
    state: str  # "complete" | "pruned" | "failed"
    cv_mean: float | None
    cv_std: float | None
    scores: dict[str, dict[str, Any]]
    fit_seconds: float
    rows: int
    error: str | None = None
    # Mean seconds of one fold's fit at ``rows`` (what the final training is
    # estimated from).
    fold_fit_seconds: float = 0.0


@dataclass
class SearchResult:
    trials: list[TrialResult]
    best: TrialResult | None  # None only when no trial completed
    metric: str
    greater_is_better: bool
    task: str
    stopped_because: str  # "max_trials" | "time_budget" | "stopped" | "search_space_exhausted"
    seconds: float
    n_train: int = 0
    skipped_algorithms: dict[str, str] = field(default_factory=dict)


def rung_sizes(train_rows: int) -> list[int]:
    """Row budgets for successive halving: [train_rows] on small tables, else e.g.
    26,048 → [2,894, 8,682, 26,048]."""
    sizes = [train_rows]
    if train_rows <= SUBSAMPLE_ABOVE_ROWS:
        return sizes
    while sizes[0] // RUNG_FACTOR >= MIN_RUNG_ROWS:
        sizes.insert(0, sizes[0] // RUNG_FACTOR)
    return sizes


class _Budget:
    def __init__(self, plan: SearchPlan, should_stop: Callable[[], bool] | None):
        self.started = time.monotonic()
        self.plan = plan
        self.should_stop = should_stop or (lambda: False)
        self.reserve = 0.0  # seconds kept for training the best trial found

    def search_deadline(self) -> float | None:
        if self.plan.time_budget_seconds is None:
            return None
        return self.started + self.plan.time_budget_seconds - self.reserve

    def trial_deadline(self, trials_left: int, *, is_default: bool) -> float | None:
        end = self.search_deadline()
        if end is None:
            return None
        share = 1.0 if trials_left <= 1 else DEFAULT_TRIAL_SHARE if is_default else TRIAL_SHARE
        return time.monotonic() + max(0.0, end - time.monotonic()) * share

    def out_of_time(self) -> bool:
        end = self.search_deadline()
        return end is not None and time.monotonic() >= end


class _Stopped(Exception):
    """should_stop() answered True between two folds."""


def run_search(
    frame: pd.DataFrame,
    plan: SearchPlan,
    *,
    target: str,
    test_size: float,
    random_state: int,
    features: list[str] | None = None,
    on_trial: Callable[[TrialResult, list[TrialResult]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_encoded_cells: int | None = None,
) -> SearchResult:
    """Search ``plan.algorithms`` on the training part of ``frame``. Raises MLError for
    a target or features that cannot be used; a trial's own failure is a failed trial.
    An algorithm whose encoded table would exceed ``max_encoded_cells`` (the bound
    train_model applies, see preprocessing.check_encoded_size) is left out."""
    budget = _Budget(plan, should_stop)
    rows = load_rows(frame, target=target, task=plan.task, features=features)
    holdout = split_holdout(rows, task=plan.task, test_size=float(test_size), random_state=int(random_state))
    x_train = holdout.x_train.reset_index(drop=True)
    y_train = holdout.y_train
    n_train = len(y_train)
    skipped = {}
    algorithms = []
    for key in plan.algorithms:
        if key == "svc" and n_train > SVC_MAX_ROWS:
            skipped[key] = (
                f"left out: {n_train:,} training rows (the support vector machine is searched up to {SVC_MAX_ROWS:,})"
            )
            continue
        try:
            check_encoded_size(
                feature_counts(rows.features),
                rows=len(rows.labels),
                native_categorical=ALGORITHMS[key].native_categorical,
                limit=max_encoded_cells,
            )
        except TrainingError as error:
            skipped[key] = f"left out: {error.message}"
            continue
        algorithms.append(key)
    if not algorithms:
        raise MLError("No algorithm can be searched on this table.", {"algorithms": list(skipped.values())})
    rungs = _rungs(x_train, y_train, plan)
    spaces = {key: search_space(ALGORITHMS[key], train_rows=n_train) for key in algorithms}

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if plan.greater_is_better else "minimize"
    study = optuna.create_study(
        direction=direction,
        sampler=TPESampler(seed=plan.random_state),
        # Not before two folds: one small fold says little. Defaults are never pruned.
        pruner=MedianPruner(n_startup_trials=len(algorithms), n_warmup_steps=1),
    )
    for key in algorithms:
        study.enqueue_trial(default_point(ALGORITHMS[key], spaces[key]))

    trials: list[TrialResult] = []
    invalid_in_a_row = 0
    stopped_because = "max_trials"
    with threadpool_limits(limits=TRAINING_THREADS):
        while len(trials) < plan.max_trials:
            if budget.should_stop():
                stopped_because = "stopped"
                break
            if budget.out_of_time():
                stopped_because = "time_budget"
                break
            trial = study.ask()
            key = trial.suggest_categorical(ALGORITHM_PARAMETER, algorithms)
            params = _checked(key, suggest(trial, spaces[key]), target, rows)
            if params is None:
                study.tell(trial, state=TrialState.PRUNED)
                invalid_in_a_row += 1
                if invalid_in_a_row >= MAX_INVALID_IN_A_ROW:
                    stopped_because = "search_space_exhausted"
                    break
                continue
            invalid_in_a_row = 0
            is_default = len(trials) < len(algorithms)
            deadline = budget.trial_deadline(plan.max_trials - len(trials), is_default=is_default)
            result, state, value = _evaluate(
                trial, len(trials), key, params, rows, x_train, y_train, rungs, plan,
                deadline=deadline, prunable=not is_default, budget=budget,
            )  # fmt: skip
            if state == TrialState.COMPLETE:
                study.tell(trial, value)
            else:
                study.tell(trial, state=state)
            trials.append(result)
            best = _best(trials, plan.greater_is_better)
            if best is not None:
                budget.reserve = _final_fit_estimate(best, n_train, len(rows.labels), plan.cv_folds)
            if on_trial is not None:
                on_trial(result, list(trials))
            if result.error == _STOPPED:
                stopped_because = "stopped"
                break
    return SearchResult(
        trials=trials,
        best=_best(trials, plan.greater_is_better),
        metric=plan.metric,
        greater_is_better=plan.greater_is_better,
        task=plan.task,
        stopped_because=stopped_because,
        seconds=round(time.monotonic() - budget.started, 3),
        n_train=n_train,
        skipped_algorithms=skipped,
    )


_STOPPED = "stopped before it finished"


def _rungs(x_train: pd.DataFrame, y_train: np.ndarray, plan: SearchPlan) -> list[list[tuple[Any, ...]]]:
    """For each row budget, its folds as (fit positions, score positions) into the
    training part. A smaller budget is a seeded (stratified) sample of the rows."""
    rungs = []
    classification = plan.task == "classification"
    for size in rung_sizes(len(y_train)):
        positions = np.arange(len(y_train))
        if size < len(y_train):
            positions, _ = train_test_split(
                positions,
                train_size=size,
                random_state=plan.random_state,
                stratify=y_train if classification else None,
            )
            positions = np.sort(positions)
        folds = make_folds(
            y_train[positions], task=plan.task, folds=plan.cv_folds, random_state=plan.random_state
        )
        rungs.append([(positions[fit], positions[score]) for fit, score in folds])
    return rungs


def _checked(key: str, values: dict[str, Any], target: str, rows: Rows) -> dict[str, Any] | None:
    try:
        params = validate_hyperparameters(key, values)
    except HyperparameterError:
        return None
    classes = rows.classes
    if check_for_target(key, params, target=target, n_classes=len(classes) if classes is not None else None):
        return None
    return params


def _evaluate(
    trial: optuna.Trial,
    number: int,
    key: str,
    params: dict[str, Any],
    rows: Rows,
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    rungs: list[list[tuple[Any, ...]]],
    plan: SearchPlan,
    *,
    deadline: float | None,
    prunable: bool,
    budget: _Budget,
) -> tuple[TrialResult, TrialState, float | None]:
    spec = ALGORITHMS[key]
    metrics = METRICS[plan.task]
    fit_seconds = 0.0
    outcomes: list[FoldOutcome] = []
    rows_seen = 0
    step = 0

    def result(state: str, error: str | None = None) -> TrialResult:
        summary = summarise([outcome.scores for outcome in outcomes], metrics) if outcomes else {}
        complete = state == "complete"
        optimised = summary.get(plan.metric, {})
        hyperparameters = {**params, **merge_realised(outcomes, params)} if complete else dict(params)
        return TrialResult(
            number=number,
            algorithm=key,
            hyperparameters=hyperparameters,
            state=state,
            cv_mean=optimised.get("mean") if complete else None,
            cv_std=optimised.get("std") if complete else None,
            scores=summary if complete else {},
            fit_seconds=round(fit_seconds, 3),
            rows=rows_seen,
            error=error,
            fold_fit_seconds=round(float(np.mean([item.fit_seconds for item in outcomes])), 3)
            if outcomes
            else 0.0,
        )

    try:
        for rung in rungs:
            outcomes = []
            rows_seen = len(rung[0][0]) + len(rung[0][1])
            for fit_positions, score_positions in rung:
                if budget.should_stop():
                    raise _Stopped
                if deadline is not None and time.monotonic() > deadline:
                    raise OutOfTime
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outcome = fit_fold(
                        spec, params, rows.features,
                        x_train.iloc[fit_positions], y_train[fit_positions],
                        x_train.iloc[score_positions], y_train[score_positions],
                        classes=rows.classes, random_state=plan.random_state, deadline=deadline,
                    )  # fmt: skip
                outcomes.append(outcome)
                fit_seconds += outcome.fit_seconds
                running = summarise([item.scores for item in outcomes], [plan.metric])[plan.metric]["mean"]
                if running is None:
                    raise ValueError(f"{plan.metric} could not be computed on a fold")
                trial.report(running, step)
                step += 1
                if prunable and trial.should_prune():
                    return (
                        result("pruned", "stopped early: worse than the median trial so far"),
                        (TrialState.PRUNED),
                        None,
                    )
    except _Stopped:
        return result("pruned", _STOPPED), TrialState.PRUNED, None
    except OutOfTime:
        return (
            result("pruned", "stopped: took longer than its share of the time budget"),
            TrialState.PRUNED,
            None,
        )
    except MemoryError:
        return result("failed", "ran out of memory"), TrialState.FAIL, None
    except Exception as error:  # noqa: BLE001 - one bad trial must not end the search
        text = f"{spec.name} could not be trained: {str(error).strip() or type(error).__name__}"
        return result("failed", text[:ERROR_LENGTH]), TrialState.FAIL, None
    finished = result("complete")
    return finished, TrialState.COMPLETE, finished.cv_mean


def _best(trials: list[TrialResult], greater_is_better: bool) -> TrialResult | None:
    complete = [trial for trial in trials if trial.state == "complete" and trial.cv_mean is not None]
    if not complete:
        return None
    sign = -1.0 if greater_is_better else 1.0
    # Ties go to the earlier trial (defaults and cheaper algorithms come first).
    return min(complete, key=lambda trial: (sign * trial.cv_mean, trial.number))


def _final_fit_estimate(best: TrialResult, n_train: int, n_all: int, folds: int) -> float:
    """Seconds train_model is expected to take for ``best``: one fold's fit time scaled
    from a fold's rows to the training part and to every row (quadratically for the
    support vector machine), times FINAL_FIT_FACTOR for predictions and importances."""
    fold_rows = max(1, best.rows * (folds - 1) // folds)
    exponent = 2.0 if best.algorithm == "svc" else 1.0
    scale = (n_train / fold_rows) ** exponent + (n_all / fold_rows) ** exponent
    return FINAL_FIT_FACTOR / 2 * best.fold_fit_seconds * scale

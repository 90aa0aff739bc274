"""Training: check the target (see targets.py), choose and coerce features, split
(holdout.py), fit a Pipeline, measure it on the holdout, explain it with permutation
importance, optionally cross-validate the training part and refit on every row.

``train_model`` is deterministic for a given ``random_state``: the split, the
estimator's seed, the importance shuffles and the metric samples all derive from it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from catboost import CatBoostError
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import permutation_importance
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from .catalog import TRAINING_THREADS, check_for_target, get_algorithm, validate_hyperparameters
from .crossval import check_cv_folds, cross_validate
from .errors import TrainingError
from .holdout import load_rows, split_holdout
from .metrics import classification_metrics, importance_list, json_label, regression_metrics
from .pipelines import build_pipeline
from .preprocessing import check_encoded_size, feature_counts
from .schema import FeatureSchema
from .stopping import fit_stoppable, stoppable_scorer
from .targets import DEFAULT_RANDOM_STATE, DEFAULT_TEST_SIZE, check_random_state, check_test_size

ProgressCallback = Callable[[str, int], None]

# Permutation importance predicts n_features x n_repeats times; a bounded sample of
# the holdout keeps that to seconds on large tables.
IMPORTANCE_MAX_ROWS = 2000
IMPORTANCE_REPEATS = 5
# ...and features x repeats at most this many predictions (499 features: one repeat each).
IMPORTANCE_MAX_PREDICTIONS = 500
MAX_WARNINGS = 5


@dataclass
class TrainingResult:
    pipeline: Pipeline
    feature_schema: FeatureSchema
    metrics: dict[str, Any]
    timings: dict[str, float]
    rows_used: int
    rows_dropped_missing_target: int
    n_train: int
    n_test: int
    # Rows the returned pipeline was fitted on: n_train, or every usable row when
    # refit_full (the holdout included).
    n_fit: int = 0
    # Things the user may want to act on (e.g. the solver did not converge).
    warnings: list[str] = field(default_factory=list)


def _summarise_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    messages: list[str] = []
    for item in caught:
        if issubclass(item.category, ConvergenceWarning):
            text = (
                "the optimiser did not converge; the model may be less accurate "
                "(raise max_iter, or scale the data)"
            )
        elif issubclass(item.category, (DeprecationWarning, FutureWarning)):
            continue  # library housekeeping, nothing the user can do
        else:
            text = str(item.message).strip()[:300]
        if text not in messages:
            messages.append(text)
    return messages[:MAX_WARNINGS]


def train_model(
    frame: pd.DataFrame,
    *,
    target: str,
    algorithm: str,
    hyperparameters: dict[str, Any] | None,
    test_size: float = DEFAULT_TEST_SIZE,
    random_state: int = DEFAULT_RANDOM_STATE,
    features: list[str] | None = None,
    progress: ProgressCallback | None = None,
    refit_full: bool = True,
    cv_folds: int | None = None,
    max_encoded_cells: int | None = None,
) -> TrainingResult:
    """Train ``algorithm`` on the raw table ``frame`` (values as read from a CSV).

    The metrics and importances come from a fit on the training part, measured on the
    holdout. With ``refit_full`` the returned pipeline is then fitted again on every
    usable row (holdout included), so the served model has seen all the data; its
    quality is the holdout fit's, which is the honest estimate. ``cv_folds`` adds a
    k-fold cross-validation on the training part (``metrics["cross_validation"]``).
    ``max_encoded_cells`` bounds rows x encoded columns (preprocessing.check_encoded_size).

    ``progress`` is called often (during fits and importances too, see stopping.py):
    whatever it raises stops the training, which is how a deleted model's worker stops.

    Raises HyperparameterError, TargetError or TrainingError (all MLError) with a
    message the user can act on; anything else is a bug.
    """
    report = progress or (lambda stage, percent: None)
    started = time.perf_counter()
    report("preparing", 5)

    spec = get_algorithm(algorithm)
    params = validate_hyperparameters(algorithm, hyperparameters)
    check_test_size(test_size)
    check_random_state(random_state)
    folds = check_cv_folds(cv_folds) if cv_folds is not None else None
    random_state = int(random_state)
    rows = load_rows(frame, target=target, task=spec.task, features=features)
    classes = rows.classes
    chosen = rows.features

    check_encoded_size(
        feature_counts(chosen),
        rows=len(rows.labels),
        native_categorical=spec.native_categorical,
        limit=max_encoded_cells,
    )
    target_problems = check_for_target(
        spec.key, params, target=target, n_classes=len(classes) if classes is not None else None
    )
    if target_problems:
        first = next(iter(target_problems.values()))[0]
        raise TrainingError(first, target_problems)

    holdout = split_holdout(rows, task=spec.task, test_size=float(test_size), random_state=random_state)
    x_train, x_test, y_train, y_test = holdout.x_train, holdout.x_test, holdout.y_train, holdout.y_test

    def build(labels: np.ndarray) -> Pipeline:
        return build_pipeline(spec, params, chosen, random_state=random_state, labels=labels)

    pipeline = build(y_train)
    timings: dict[str, float] = {}

    # Bounded threads for OpenMP/BLAS too (HistGradientBoosting would take every core),
    # which also keeps timings steady when several workers share a machine.
    caught: list[warnings.WarningMessage] = []
    with threadpool_limits(limits=TRAINING_THREADS):
        fit_started = time.perf_counter()
        _fit(
            spec.name,
            pipeline,
            x_train,
            y_train,
            caught,
            report=report,
            stage="fitting",
            percent=20,
            until=69,
        )
        timings["fit_seconds"] = round(time.perf_counter() - fit_started, 3)

        report("evaluating", 70)
        evaluate_started = time.perf_counter()
        predicted = np.asarray(pipeline.predict(x_test)).reshape(-1)
        if spec.task == "classification":
            assert classes is not None
            fitted_classes = [json_label(label) for label in pipeline.classes_]
            if fitted_classes != classes:
                raise TrainingError(f"{spec.name} learned classes {fitted_classes} instead of {classes}")
            probabilities = np.asarray(pipeline.predict_proba(x_test))
            metrics = classification_metrics(y_test, predicted, probabilities, classes)
            scoring = "accuracy"
        else:
            metrics = regression_metrics(y_test, predicted, random_state=random_state)
            scoring = "r2"

        report("importance", 80)
        metrics["feature_importance"] = _importance(
            pipeline, x_test, y_test, scoring=scoring, random_state=random_state, report=report
        )
        metrics["feature_importance_scoring"] = scoring
        metrics["n_train"] = len(y_train)
        metrics["n_test"] = len(y_test)
        timings["evaluate_seconds"] = round(time.perf_counter() - evaluate_started, 3)

        if folds is not None:
            report("cross-validating", 85)
            cv_started = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    # The folds repeat the holdout fit's warnings; those are reported.
                    warnings.simplefilter("ignore")
                    metrics["cross_validation"] = cross_validate(
                        build,
                        x_train,
                        y_train,
                        task=spec.task,
                        classes=classes,
                        folds=folds,
                        random_state=random_state,
                        # Every fold starts again at 85: moving within a fold would
                        # send the bar back at the next one.
                        fit=lambda pipeline, x, y: fit_stoppable(
                            pipeline, x, y, report=report, stage="cross-validating", percent=85
                        ),
                    )
            except (ValueError, ArithmeticError, np.linalg.LinAlgError, CatBoostError) as error:
                raise TrainingError(f"{spec.name} could not be cross-validated: {error}") from error
            timings["cv_seconds"] = round(time.perf_counter() - cv_started, 3)

        n_fit = len(y_train)
        if refit_full:
            refit_started = time.perf_counter()
            pipeline = build(rows.labels)
            _fit(
                spec.name,
                pipeline,
                rows.frame,
                rows.labels,
                caught,
                report=report,
                stage="refitting",
                percent=90,
                until=96,
            )
            n_fit = len(rows.labels)
            timings["refit_seconds"] = round(time.perf_counter() - refit_started, 3)
        metrics["refit_full"] = bool(refit_full)

    timings["total_seconds"] = round(time.perf_counter() - started, 3)
    schema = FeatureSchema(
        target=target,
        task=spec.task,
        features=chosen,
        classes=list(classes) if classes is not None else None,
        dropped=rows.dropped,
    )
    result = TrainingResult(
        pipeline=pipeline,
        feature_schema=schema,
        metrics=metrics,
        timings=timings,
        rows_used=rows.summary.rows_used,
        rows_dropped_missing_target=rows.summary.rows_dropped_missing_target,
        n_train=len(y_train),
        n_test=len(y_test),
        n_fit=n_fit,
        warnings=_summarise_warnings(caught),
    )
    report("done", 100)
    return result


def _fit(
    name: str,
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: np.ndarray,
    caught: list[warnings.WarningMessage],
    *,
    report: ProgressCallback,
    stage: str,
    percent: int,
    until: int | None = None,
) -> None:
    """Fit (stoppably, see stopping.py), keeping the warnings for the user and turning
    library errors into TrainingError."""
    try:
        with warnings.catch_warnings(record=True) as recorded:
            warnings.simplefilter("always")
            try:
                fit_stoppable(pipeline, x, y, report=report, stage=stage, percent=percent, until=until)
            finally:
                caught.extend(recorded)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError, CatBoostError) as error:
        raise TrainingError(f"{name} could not be trained: {error}") from error


def _importance(
    pipeline: Pipeline,
    x_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    scoring: str,
    random_state: int,
    report: ProgressCallback,
) -> list[dict[str, Any]]:
    """Permutation importance per input column (the pipeline gets the coerced input
    columns, so one-hot columns of a feature are shuffled together). It predicts
    features x repeats times: the repeats shrink so that this stays within
    IMPORTANCE_MAX_PREDICTIONS (at least one per feature)."""
    if len(y_test) > IMPORTANCE_MAX_ROWS:
        rows = np.sort(
            np.random.RandomState(random_state).choice(len(y_test), IMPORTANCE_MAX_ROWS, replace=False)
        )
        x_test, y_test = x_test.iloc[rows], y_test[rows]
    repeats = importance_repeats(x_test.shape[1])
    with warnings.catch_warnings():
        # A one-row holdout makes R² undefined; that shows as None, not a warning.
        warnings.simplefilter("ignore")
        result = permutation_importance(
            pipeline,
            x_test,
            y_test,
            scoring=stoppable_scorer(
                get_scorer(scoring), report, "importance", 80, until=84, calls=1 + x_test.shape[1] * repeats
            ),
            n_repeats=repeats,
            random_state=random_state,
            n_jobs=1,
        )
    return importance_list(list(x_test.columns), result.importances_mean, result.importances_std)


def importance_repeats(features: int) -> int:
    """Shuffles per feature: IMPORTANCE_REPEATS, fewer when there are many features."""
    return max(1, min(IMPORTANCE_REPEATS, IMPORTANCE_MAX_PREDICTIONS // max(features, 1)))

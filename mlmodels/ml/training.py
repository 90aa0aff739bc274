"""Training: check the target (see targets.py), choose and coerce features, split, fit
a Pipeline, measure it on the holdout and explain it with permutation importance.

``train_model`` is deterministic for a given ``random_state``: the split, the
estimator's seed, the importance shuffles and the metric samples all derive from it.
"""

from __future__ import annotations

import math
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
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from .catalog import TRAINING_THREADS, check_for_target, get_algorithm, validate_hyperparameters
from .errors import TrainingError
from .metrics import classification_metrics, importance_list, json_label, regression_metrics
from .preprocessing import build_preprocessor, categorical_indices, select_features
from .schema import FeatureSchema, coerce_frame
from .targets import (
    DEFAULT_RANDOM_STATE,
    DEFAULT_TEST_SIZE,
    check_random_state,
    check_test_size,
    prepare_target,
    quote_label,
    target_error,
)

ProgressCallback = Callable[[str, int], None]

# Permutation importance predicts n_features x n_repeats times; a bounded sample of
# the holdout keeps that to seconds on large tables.
IMPORTANCE_MAX_ROWS = 2000
IMPORTANCE_REPEATS = 5
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
    # Things the user may want to act on (e.g. the solver did not converge).
    warnings: list[str] = field(default_factory=list)


def _label_array(labels: pd.Series) -> np.ndarray:
    """Labels as the array the estimator is fitted with: int64 or float64 for numbers
    (so ``classes_`` compares equal to the schema's ints), object for strings."""
    first = labels.iloc[0]
    if isinstance(first, int):
        return labels.to_numpy(dtype="int64")
    if isinstance(first, float):
        return labels.to_numpy(dtype="float64")
    return labels.to_numpy(dtype=object)


def _split(
    features: pd.DataFrame,
    labels: np.ndarray,
    *,
    task: str,
    test_size: float,
    random_state: int,
    classes: list[Any] | None,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    rows = len(labels)
    test_rows = max(1, math.ceil(test_size * rows))
    if task == "classification":
        assert classes is not None
        # A stratified holdout needs every class on both sides.
        test_rows = max(test_rows, len(classes))
        if rows - test_rows < len(classes):
            raise target_error(f"{rows} rows are too few to train and test {len(classes)} classes")
        stratify = labels
    else:
        stratify = None
    if rows - test_rows < 2:
        raise target_error(f"{rows} rows are too few to train and test a model")
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=test_rows, random_state=random_state, stratify=stratify
    )
    return x_train, x_test, y_train, y_test


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
) -> TrainingResult:
    """Train ``algorithm`` on the raw table ``frame`` (values as read from a CSV).

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
    random_state = int(random_state)
    # A positional index, so selecting the rows that have a target cannot pick up
    # duplicate index labels of a concatenated frame.
    frame = frame.reset_index(drop=True)
    summary, target_values = prepare_target(frame, target, spec.task)

    # Keep only the rows with a target; positions stay in file order.
    usable = frame.loc[target_values.index]
    chosen, dropped = select_features(usable, target, features)
    feature_frame, _, _ = coerce_frame(usable, chosen)
    labels = _label_array(target_values.reset_index(drop=True))
    classes = summary.classes

    target_problems = check_for_target(
        spec.key, params, target=target, n_classes=len(classes) if classes is not None else None
    )
    if target_problems:
        first = next(iter(target_problems.values()))[0]
        raise TrainingError(first, target_problems)

    x_train, x_test, y_train, y_test = _split(
        feature_frame,
        labels,
        task=spec.task,
        test_size=float(test_size),
        random_state=random_state,
        classes=classes,
    )

    smallest_class = None
    if classes is not None:
        train_counts = pd.Series(y_train).value_counts()
        smallest_class = int(train_counts.min())
        if spec.key == "svc" and smallest_class < 2:
            rare = quote_label(json_label(train_counts.idxmin()))
            message = (
                f"the support vector machine calibrates its probabilities by cross-validation "
                f"and needs at least 2 training rows of every class; class {rare} has 1. "
                "Add rows or choose another algorithm"
            )
            raise TrainingError(message, {"target": [message]})

    preprocessor = build_preprocessor(chosen, native_categorical=spec.native_categorical)
    estimator = spec.build_estimator(
        params,
        random_state=random_state,
        categorical_indices=categorical_indices(chosen) if spec.native_categorical else None,
        smallest_class_count=smallest_class,
    )
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])

    # Bounded threads for OpenMP/BLAS too (HistGradientBoosting would take every core),
    # which also keeps timings steady when several workers share a machine.
    with threadpool_limits(limits=TRAINING_THREADS):
        report("fitting", 20)
        fit_started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                pipeline.fit(x_train, y_train)
            except MemoryError:
                raise TrainingError(
                    "Training ran out of memory; use fewer rows or features, or a lighter algorithm."
                ) from None
            except (ValueError, ArithmeticError, np.linalg.LinAlgError, CatBoostError) as error:
                raise TrainingError(f"{spec.name} could not be trained: {error}") from error
        fit_seconds = time.perf_counter() - fit_started

        report("evaluating", 80)
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

        report("importance", 90)
        metrics["feature_importance"] = _importance(
            pipeline, x_test, y_test, scoring=scoring, random_state=random_state
        )
        metrics["feature_importance_scoring"] = scoring
        metrics["n_train"] = len(y_train)
        metrics["n_test"] = len(y_test)
        evaluate_seconds = time.perf_counter() - evaluate_started

    schema = FeatureSchema(
        target=target,
        task=spec.task,
        features=chosen,
        classes=list(classes) if classes is not None else None,
        dropped=dropped,
    )
    result = TrainingResult(
        pipeline=pipeline,
        feature_schema=schema,
        metrics=metrics,
        timings={
            "fit_seconds": round(fit_seconds, 3),
            "evaluate_seconds": round(evaluate_seconds, 3),
            "total_seconds": round(time.perf_counter() - started, 3),
        },
        rows_used=summary.rows_used,
        rows_dropped_missing_target=summary.rows_dropped_missing_target,
        n_train=len(y_train),
        n_test=len(y_test),
        warnings=_summarise_warnings(caught),
    )
    report("done", 100)
    return result


def _importance(
    pipeline: Pipeline,
    x_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    scoring: str,
    random_state: int,
) -> list[dict[str, Any]]:
    """Permutation importance per input column (the pipeline gets the coerced input
    columns, so one-hot columns of a feature are shuffled together)."""
    if len(y_test) > IMPORTANCE_MAX_ROWS:
        rows = np.sort(
            np.random.RandomState(random_state).choice(len(y_test), IMPORTANCE_MAX_ROWS, replace=False)
        )
        x_test, y_test = x_test.iloc[rows], y_test[rows]
    with warnings.catch_warnings():
        # A one-row holdout makes R² undefined; that shows as None, not a warning.
        warnings.simplefilter("ignore")
        result = permutation_importance(
            pipeline,
            x_test,
            y_test,
            scoring=scoring,
            n_repeats=IMPORTANCE_REPEATS,
            random_state=random_state,
            n_jobs=1,
        )
    return importance_list(list(x_test.columns), result.importances_mean, result.importances_std)

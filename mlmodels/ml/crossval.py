"""K-fold cross-validation on the training part: the folds, the scores of one fold,
their mean and spread. Used by ``train_model(cv_folds=…)`` and by the search, so
both measure a model the same way."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline

from .errors import TrainingError
from .metrics import clean_number, json_label, roc_auc
from .targets import quote_label

MIN_CV_FOLDS = 2
MAX_CV_FOLDS = 10

# Every score a fold gets, by task; the first is the default to optimise.
METRICS: dict[str, list[str]] = {
    "classification": ["roc_auc", "accuracy", "f1", "log_loss"],
    "regression": ["rmse", "mae", "r2"],
}
GREATER_IS_BETTER = {"roc_auc": True, "accuracy": True, "f1": True, "log_loss": False}
GREATER_IS_BETTER |= {"rmse": False, "mae": False, "r2": True}
# What ordinary training reports under metrics["cross_validation"].
TRAINING_CV_METRICS = {"classification": ["roc_auc", "accuracy", "f1"], "regression": ["rmse", "r2"]}


def check_cv_folds(cv_folds: Any) -> int:
    if (
        isinstance(cv_folds, bool)
        or not isinstance(cv_folds, (int, np.integer))
        or not MIN_CV_FOLDS <= int(cv_folds) <= MAX_CV_FOLDS
    ):
        message = f"must be a whole number from {MIN_CV_FOLDS} to {MAX_CV_FOLDS} (got {cv_folds!r})"
        raise TrainingError(f"cv_folds {message}.", {"cv_folds": [message]})
    return int(cv_folds)


def make_folds(
    labels: np.ndarray, *, task: str, folds: int, random_state: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled, seeded (train positions, test positions) pairs; stratified for
    classification. Raises TrainingError on ``cv_folds`` when a class is too small."""
    rows = len(labels)
    if task == "classification":
        counts = pd.Series(labels).value_counts()
        if int(counts.min()) < folds:
            rare = quote_label(json_label(counts.idxmin()))
            message = (
                f"{folds} folds need at least {folds} training rows of every class; "
                f"class {rare} has {int(counts.min())}. Choose fewer folds"
            )
            raise TrainingError(f"Too many cross-validation folds: {message}.", {"cv_folds": [message]})
        splitter: Any = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    else:
        if rows < 2 * folds:
            message = f"{folds} folds need at least {2 * folds} training rows; there are {rows}"
            raise TrainingError(f"Too many cross-validation folds: {message}.", {"cv_folds": [message]})
        splitter = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros(rows), labels))


def fold_scores(
    task: str,
    y_true: np.ndarray,
    predicted: np.ndarray,
    probabilities: np.ndarray | None,
    classes: list[Any] | None,
) -> dict[str, float | None]:
    """Every metric of METRICS[task] on one fold (None where undefined)."""
    if task == "classification":
        assert classes is not None and probabilities is not None
        return {
            "roc_auc": roc_auc(y_true, probabilities, classes),
            "accuracy": clean_number(accuracy_score(y_true, predicted)),
            "f1": clean_number(f1_score(y_true, predicted, labels=classes, average="macro", zero_division=0)),
            "log_loss": clean_number(log_loss(y_true, probabilities, labels=classes)),
        }
    y_true = np.asarray(y_true, dtype="float64")
    predicted = np.asarray(predicted, dtype="float64").reshape(-1)
    spread = len(y_true) >= 2 and np.ptp(y_true) > 0
    return {
        "rmse": clean_number(math.sqrt(mean_squared_error(y_true, predicted))),
        "mae": clean_number(mean_absolute_error(y_true, predicted)),
        "r2": clean_number(r2_score(y_true, predicted)) if spread else None,
    }


def summarise(per_fold: list[dict[str, float | None]], metrics: list[str]) -> dict[str, dict[str, Any]]:
    """{metric: {"mean", "std"}} over the folds where the metric was defined."""
    summary: dict[str, dict[str, Any]] = {}
    for metric in metrics:
        values = [scores[metric] for scores in per_fold if scores.get(metric) is not None]
        if values:
            summary[metric] = {"mean": clean_number(np.mean(values)), "std": clean_number(np.std(values))}
        else:
            summary[metric] = {"mean": None, "std": None}
    return summary


def predict_fold(pipeline: Any, x_test: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    predicted = np.asarray(pipeline.predict(x_test)).reshape(-1)
    probabilities = np.asarray(pipeline.predict_proba(x_test)) if task == "classification" else None
    return predicted, probabilities


def cross_validate(
    build: Callable[[np.ndarray], Pipeline],
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    task: str,
    classes: list[Any] | None,
    folds: int,
    random_state: int,
    fit: Callable[[Pipeline, pd.DataFrame, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """``{"folds": k, metric: {"mean", "std"}, ...}`` for TRAINING_CV_METRICS[task].
    ``build(fit_labels)`` returns a fresh unfitted pipeline for each fold; ``fit``
    fits it (default: ``pipeline.fit``)."""
    per_fold = []
    for train_positions, test_positions in make_folds(y, task=task, folds=folds, random_state=random_state):
        y_fit = y[train_positions]
        pipeline = build(y_fit)
        if fit is None:
            pipeline.fit(x.iloc[train_positions], y_fit)
        else:
            fit(pipeline, x.iloc[train_positions], y_fit)
        predicted, probabilities = predict_fold(pipeline, x.iloc[test_positions], task)
        per_fold.append(fold_scores(task, y[test_positions], predicted, probabilities, classes))
    return {"folds": folds, **summarise(per_fold, TRAINING_CV_METRICS[task])}

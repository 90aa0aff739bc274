"""Holdout metrics, shaped for JSON: plain Python numbers, NaN as None, bounded lists.

Every function here returns something ``json.dumps(..., allow_nan=False)`` accepts,
because the result is stored in a JSON field and drawn by the browser as is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    auc,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    roc_curve,
)

MAX_ROC_POINTS = 200
# Cut-offs 0.00, 0.01, ..., 1.00 for the threshold slider: 101 × 4 counts at most.
THRESHOLD_STEPS = 100
MAX_RESIDUAL_POINTS = 500
SIGNIFICANT_DIGITS = 6


def clean_number(value: Any, digits: int = SIGNIFICANT_DIGITS) -> float | None:
    """A plain float rounded to ``digits`` significant digits; NaN and inf become None."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return float(f"{number:.{digits}g}")


def json_label(value: Any) -> Any:
    """A class label as a JSON value (NumPy scalars to int/float/str)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _even_sample(count: int, limit: int) -> np.ndarray:
    """At most ``limit`` indices spread evenly over ``range(count)``, first and last
    included, so a chart of a long curve keeps its shape."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(int))


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray | None, classes: list[Any]
) -> dict[str, Any]:
    """Accuracy, precision/recall/F1, ROC AUC, confusion matrix and (binary) ROC curve.

    Binary: ``precision``/``recall``/``f1`` are for the positive class, the second of
    the sorted classes; the ``*_macro`` keys are always macro averages. Multiclass:
    the plain keys are macro averages too. ``average`` says which.
    """
    labels = list(classes)
    binary = len(labels) == 2
    macro = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    per_class = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None, zero_division=0)
    metrics: dict[str, Any] = {
        "accuracy": clean_number(accuracy_score(y_true, y_pred)),
        "average": "binary" if binary else "macro",
        "precision_macro": clean_number(macro[0]),
        "recall_macro": clean_number(macro[1]),
        "f1_macro": clean_number(macro[2]),
    }
    if binary:
        positive = labels[1]
        metrics["positive_class"] = json_label(positive)
        metrics["precision"] = clean_number(per_class[0][1])
        metrics["recall"] = clean_number(per_class[1][1])
        metrics["f1"] = clean_number(per_class[2][1])
    else:
        metrics["precision"] = metrics["precision_macro"]
        metrics["recall"] = metrics["recall_macro"]
        metrics["f1"] = metrics["f1_macro"]
    metrics["per_class"] = [
        {
            "label": json_label(label),
            "precision": clean_number(per_class[0][index]),
            "recall": clean_number(per_class[1][index]),
            "f1": clean_number(per_class[2][index]),
            "support": int(per_class[3][index]),
        }
        for index, label in enumerate(labels)
    ]
    metrics["roc_auc"] = None
    if probabilities is not None:
        metrics["roc_auc"] = roc_auc(y_true, probabilities, labels)
        if binary:
            metrics["roc_curve"] = _roc_points(y_true, probabilities[:, 1], labels[1])
            metrics["threshold_counts"] = threshold_counts(y_true, probabilities[:, 1], labels[1])
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    metrics["confusion_matrix"] = {
        "labels": [json_label(label) for label in labels],
        "matrix": matrix.astype(int).tolist(),
    }
    return metrics


def roc_auc(y_true: np.ndarray, probabilities: np.ndarray, labels: list[Any]) -> float | None:
    """ROC AUC: of the second class for two classes, else macro one-vs-rest."""
    # Undefined when the holdout lacks a class; that is "not computable", not an error.
    present = set(np.asarray(y_true).tolist())
    if len(present) < 2 or (len(labels) > 2 and len(present) < len(labels)):
        return None
    try:
        if len(labels) == 2:
            score = roc_auc_score(np.asarray(y_true) == labels[1], probabilities[:, 1])
        else:
            score = roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro", labels=labels)
    except ValueError:
        return None
    return clean_number(score)


def _roc_points(y_true: np.ndarray, scores: np.ndarray, positive: Any) -> dict[str, Any] | None:
    truth = np.asarray(y_true) == positive
    if truth.all() or not truth.any():
        return None
    fpr, tpr, _ = roc_curve(truth, scores)
    keep = _even_sample(len(fpr), MAX_ROC_POINTS)
    return {
        "fpr": [clean_number(value, 4) for value in fpr[keep]],
        "tpr": [clean_number(value, 4) for value in tpr[keep]],
        "auc": clean_number(auc(fpr, tpr)),
    }


def threshold_counts(y_true: np.ndarray, scores: np.ndarray, positive: Any) -> dict[str, list]:
    """The holdout's confusion counts had the positive class been predicted when its
    probability is above each cut-off 0.00, 0.01, …, 1.00: what a threshold slider
    shows (precision, recall, the matrix) without the rows."""
    truth = np.asarray(y_true) == positive
    scores = np.asarray(scores, dtype="float64")
    cutoffs = np.round(np.linspace(0.0, 1.0, THRESHOLD_STEPS + 1), 2)
    # Sorted scores per true class: "how many above t" is one binary search each.
    positive_scores, negative_scores = np.sort(scores[truth]), np.sort(scores[~truth])
    positives, negatives = len(positive_scores), len(negative_scores)
    true_positive = positives - np.searchsorted(positive_scores, cutoffs, side="right")
    false_positive = negatives - np.searchsorted(negative_scores, cutoffs, side="right")
    return {
        "thresholds": [float(cutoff) for cutoff in cutoffs],
        "tp": true_positive.astype(int).tolist(),
        "fp": false_positive.astype(int).tolist(),
        "fn": (positives - true_positive).astype(int).tolist(),
        "tn": (negatives - false_positive).astype(int).tolist(),
    }


def majority_baseline(confusion: dict[str, Any]) -> dict[str, Any] | None:
    """The accuracy of always answering the holdout's most frequent class (from the
    confusion matrix's rows: the true classes): the score a model must beat."""
    matrix = confusion.get("matrix") or []
    totals = [sum(row) for row in matrix]
    if not totals or not sum(totals):
        return None
    largest = max(range(len(totals)), key=lambda index: totals[index])
    return {
        "label": confusion.get("labels", [None] * len(totals))[largest],
        "accuracy": clean_number(totals[largest] / sum(totals)),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, *, random_state: int = 0) -> dict[str, Any]:
    """MAE, RMSE, R² and a sample of (predicted, actual, residual) points."""
    y_true = np.asarray(y_true, dtype="float64")
    y_pred = np.asarray(y_pred, dtype="float64").reshape(-1)
    residual = y_true - y_pred
    # R² needs at least two rows and some spread in the truth.
    r2 = r2_score(y_true, y_pred) if len(y_true) >= 2 and np.ptp(y_true) > 0 else None
    count = len(y_true)
    if count > MAX_RESIDUAL_POINTS:
        # A seeded sample, sorted back into row order: the same points on every rerun.
        chosen = np.sort(
            np.random.RandomState(random_state).choice(count, MAX_RESIDUAL_POINTS, replace=False)
        )
    else:
        chosen = np.arange(count)
    return {
        "mae": clean_number(mean_absolute_error(y_true, y_pred)),
        "rmse": clean_number(math.sqrt(mean_squared_error(y_true, y_pred))),
        "r2": clean_number(r2),
        "residuals": {
            "predicted": [clean_number(value) for value in y_pred[chosen]],
            "actual": [clean_number(value) for value in y_true[chosen]],
            "residual": [clean_number(value) for value in residual[chosen]],
        },
    }


def importance_list(names: list[str], means: np.ndarray, stds: np.ndarray) -> list[dict[str, Any]]:
    """Permutation importances as [{feature, importance, std}], most important first."""
    rows = [
        {"feature": name, "importance": clean_number(mean), "std": clean_number(std)}
        for name, mean, std in zip(names, means, stds, strict=True)
    ]
    rows.sort(key=lambda row: (-(row["importance"] or 0.0), row["feature"]))
    return rows

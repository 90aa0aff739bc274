"""One place that turns (algorithm, validated hyperparameters, features, seed) into
an unfitted scikit-learn Pipeline, for a holdout fit, a refit on every row and each
cross-validation fold alike."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .catalog import AlgorithmSpec
from .errors import TrainingError
from .metrics import json_label
from .preprocessing import build_preprocessor, categorical_indices
from .schema import Feature
from .targets import quote_label


def smallest_class_count(spec: AlgorithmSpec, labels: np.ndarray) -> int | None:
    """Rows of the rarest class in ``labels`` (None for regression). The support
    vector machine calibrates by cross-validation and needs two rows of each class."""
    if spec.task != "classification":
        return None
    counts = pd.Series(labels).value_counts()
    smallest = int(counts.min())
    if spec.key == "svc" and smallest < 2:
        rare = quote_label(json_label(counts.idxmin()))
        message = (
            f"the support vector machine calibrates its probabilities by cross-validation "
            f"and needs at least 2 training rows of every class; class {rare} has 1. "
            "Add rows or choose another algorithm"
        )
        raise TrainingError(message, {"target": [message]})
    return smallest


def build_pipeline(
    spec: AlgorithmSpec,
    params: dict[str, Any],
    features: list[Feature],
    *,
    random_state: int,
    labels: np.ndarray,
) -> Pipeline:
    """An unfitted pipeline (preprocessing, then the estimator) for fitting on
    ``labels``' rows."""
    preprocessor = build_preprocessor(features, native_categorical=spec.native_categorical)
    estimator = spec.build_estimator(
        params,
        random_state=random_state,
        categorical_indices=categorical_indices(features) if spec.native_categorical else None,
        smallest_class_count=smallest_class_count(spec, labels),
    )
    return Pipeline([("preprocess", preprocessor), ("model", estimator)])

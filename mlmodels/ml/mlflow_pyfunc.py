"""The ``python_function`` flavour of a model exported to MLflow (``mlflow_export``).

This file is shipped, byte for byte, in the export's ``code/mlservice_model/`` folder
next to a copy of ``schema.py``; MLflow puts ``code/`` on ``sys.path`` and calls
``mlservice_model.pyfunc._load_pyfunc``. So it imports nothing but ``.schema``,
NumPy and pandas (no Django, no other engine module), and the service's own scoring
(``scoring.predict_frame``) uses the same ``class_positions`` and ``classifier_labels``:
a model served by MLflow coerces its input with the service's rules and answers exactly
what the service answers for the same rows.

``predict(data, params)`` gives what MLflow's scikit-learn flavour gives: the
predicted value per row (the class for a classifier, the number for a regressor).
With ``params={"predict_method": "predict_proba"}`` a classifier gives one list of
probabilities per row instead, in the order of the model's ``classes``
(``feature_schema.json``, also in the MLmodel's ``metadata.classes``).
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any

import numpy as np
import pandas as pd

from .schema import FeatureSchema, coerce_frame

PIPELINE_FILE = "model.pkl"
SCHEMA_FILE = "feature_schema.json"
PREDICT_METHOD = "predict_method"
PREDICT_METHODS = ("predict", "predict_proba")


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds."""
    return value.item() if isinstance(value, np.generic) else value


class UnknownClass(ValueError):
    """The schema lists a class the fitted model does not know."""


def class_positions(pipeline: Any, schema: FeatureSchema) -> list[int]:
    """Where each of ``schema.classes`` sits in ``pipeline.classes_``, so probability
    columns follow the schema's order even if a model orders its classes differently."""
    model_classes = [plain(value) for value in pipeline.classes_]
    by_value = {value: position for position, value in enumerate(model_classes)}
    by_text = {str(value): position for position, value in enumerate(model_classes)}
    positions = []
    for value in schema.classes or model_classes:
        position = by_value.get(value, by_text.get(str(value)))
        if position is None:
            raise UnknownClass(f"the model does not know the class {value!r} its schema lists")
        positions.append(position)
    return positions


def classifier_labels(pipeline: Any, schema: FeatureSchema, probabilities: np.ndarray) -> np.ndarray:
    """The predicted class of each row: the one with the highest probability (the first
    of equals), so a prediction always agrees with the probabilities shown next to it.
    ``probabilities`` are in ``schema.classes`` order."""
    classes = list(schema.classes or [plain(value) for value in pipeline.classes_])
    labels = np.empty(len(classes), dtype=object)
    labels[:] = classes
    return labels[probabilities.argmax(axis=1)]


def ordered_probabilities(pipeline: Any, schema: FeatureSchema, estimator: Any, features: Any) -> np.ndarray:
    """``estimator.predict_proba(features)`` as float64, columns in ``schema.classes`` order."""
    probabilities = np.asarray(estimator.predict_proba(features), dtype="float64")
    return probabilities[:, class_positions(pipeline, schema)]


class ServiceModel:
    """A fitted pipeline and its feature schema, predicting as the service does."""

    def __init__(self, pipeline: Any, schema: FeatureSchema) -> None:
        self.pipeline = pipeline
        self.schema = schema

    def get_raw_model(self) -> Any:
        return self.pipeline

    def _frame(self, data: Any) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            frame = data
        elif isinstance(data, dict):
            frame = pd.DataFrame(data if all(isinstance(v, list) for v in data.values()) else [data])
        else:
            frame = pd.DataFrame(data)
            if list(frame.columns) == list(range(len(frame.columns))):
                if len(frame.columns) != len(self.schema.features):
                    raise ValueError(
                        f"rows without column names need {len(self.schema.features)} values each, "
                        f"in this order: {', '.join(self.schema.feature_names)}"
                    )
                frame.columns = self.schema.feature_names
        missing = [name for name in self.schema.feature_names if name not in frame.columns]
        if missing:
            raise ValueError("missing columns the model needs: " + ", ".join(map(repr, missing)))
        return frame

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        method = (params or {}).get(PREDICT_METHOD) or "predict"
        if method not in PREDICT_METHODS:
            raise ValueError(f"{PREDICT_METHOD} must be one of {', '.join(PREDICT_METHODS)}, not {method!r}")
        coerced, problems, total = coerce_frame(self._frame(data), self.schema.features)
        if total:
            shown = "; ".join(f"row {p.row}, column '{p.column}': '{p.value}'" for p in problems[:5])
            raise ValueError(f"{total} value(s) cannot be read as the column's type: {shown}")
        if self.schema.task != "classification":
            if method == "predict_proba":
                raise ValueError("predict_proba is only for classifiers; this model is a regressor")
            return np.asarray(self.pipeline.predict(coerced), dtype="float64").reshape(-1)
        probabilities = ordered_probabilities(self.pipeline, self.schema, self.pipeline, coerced)
        if method == "predict_proba":
            return probabilities
        return classifier_labels(self.pipeline, self.schema, probabilities)


def _load_pyfunc(path: str) -> ServiceModel:
    """MLflow's entry point: ``path`` is the model directory."""
    with open(os.path.join(path, SCHEMA_FILE), encoding="utf-8") as handle:
        schema = FeatureSchema.from_dict(json.load(handle))
    with open(os.path.join(path, PIPELINE_FILE), "rb") as handle:
        pipeline = pickle.load(handle)  # the model's own file, written by the service
    return ServiceModel(pipeline, schema)

"""Models trained elsewhere, made into what the service scores with: loading a checked
file (``model_files``), fitting it to its feature schema, and the proof that it works —
predicting the sample rows through the service's own scoring path. Runs in a worker
(loading may take seconds). No Django here.

The result is an ``ImportedModel``: it takes the frame ``schema.coerce_frame`` makes
(numeric columns float64 with NaN, categorical and boolean ones text with NaN, in the
schema's order) and hands the model its columns in the model's own order — for
CatBoost with missing categories spelled MISSING_CATEGORY, as CatBoost refuses NaN
there. It is saved in the service's own artifact (``artifacts.save_artifact``), so
prediction, the model cache and scoring treat it like any model trained here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import catboost
import numpy as np
import pandas as pd
import skops.io
from sklearn.base import is_classifier, is_regressor

from .errors import MLError, ModelImportError
from .inputs import frame_from_records, validate_frame
from .model_files import CATBOOST, SKOPS, TRUSTED_SKOPS_TYPES, ModelFile, check_skops_file
from .preprocessing import MISSING_CATEGORY
from .schema import FeatureSchema
from .scoring import predict_frame

# CatBoost's classification losses; any other loss makes a regressor.
CATBOOST_CLASSIFICATION_LOSSES = ("Logloss", "CrossEntropy", "MultiClass", "MultiClassOneVsAll")


def _fail(message: str, field: str = "file") -> ModelImportError:
    return ModelImportError(message, {field: [message]})


class ImportedModel:
    """A model trained elsewhere, with the service's pipeline interface (``predict``,
    ``predict_proba``, ``classes_``) over coerced frames."""

    def __init__(
        self, estimator: Any, *, source: str, columns: list[str], renamed: list[str], categorical: list[str]
    ):
        self.estimator = estimator
        self.source = source  # model_files.SKOPS or CATBOOST
        self.columns = columns  # schema names, in the order the model takes them
        self.renamed = renamed  # the model's own names for those columns
        self.categorical = categorical  # columns CatBoost takes as categories

    def _model_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        chosen = frame[self.columns].copy()
        for name in self.categorical:
            chosen[name] = chosen[name].astype(object).where(chosen[name].notna(), MISSING_CATEGORY)
        chosen.columns = self.renamed
        return chosen

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(self._model_frame(frame)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self._model_frame(frame)))

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.estimator.classes_)


@dataclass
class ImportedResult:
    model: ImportedModel
    feature_schema: FeatureSchema
    sample_rows: int


def load_model_file(data: bytes, model_file: ModelFile, *, task: str, max_bytes: int) -> Any:
    """The estimator in ``data`` (the bytes already read, so what is checked is what is
    loaded). A skops file's types are checked again here against the allow-list."""
    if model_file.format == SKOPS:
        untrusted = check_skops_file(data, max_bytes=max_bytes)
        if any(name not in TRUSTED_SKOPS_TYPES for name in untrusted):  # check_skops_file refused already
            raise _fail("The skops file holds types this service does not load.")
        try:
            return skops.io.loads(data, trusted=untrusted)
        except Exception as error:
            raise _fail(
                f"The skops file cannot be loaded: {type(error).__name__}: {str(error)[:300]}"
            ) from None
    if model_file.format == CATBOOST:
        estimator = (
            catboost.CatBoostClassifier() if task == "classification" else catboost.CatBoostRegressor()
        )
        try:
            estimator.load_model(blob=data)
        except Exception as error:
            raise _fail(f"The CatBoost model cannot be loaded: {str(error)[:300]}") from None
        return estimator
    raise _fail(f"Unknown model format {model_file.format!r}.")


def _sklearn_columns(estimator: Any, schema: FeatureSchema) -> list[str]:
    names = schema.feature_names
    expected = getattr(estimator, "feature_names_in_", None)
    if expected is not None:
        expected = [str(name) for name in expected]
        missing = [name for name in expected if name not in names]
        extra = [name for name in names if name not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(
                    "the model takes "
                    + ", ".join(f"'{name}'" for name in missing[:10])
                    + " not in the schema"
                )
            if extra:
                parts.append(
                    "the schema lists "
                    + ", ".join(f"'{name}'" for name in extra[:10])
                    + " the model does not take"
                )
            raise _fail(
                f"The schema does not match the model ({len(expected)} features): {'; '.join(parts)}.",
                "schema",
            )
        return expected
    count = getattr(estimator, "n_features_in_", None)
    if count is not None and int(count) != len(names):
        raise _fail(f"The model takes {int(count)} features; the schema lists {len(names)}.", "schema")
    return names


def _fit_sklearn(estimator: Any, schema: FeatureSchema) -> ImportedModel:
    if not hasattr(estimator, "predict"):
        raise _fail(f"The skops file holds a {type(estimator).__name__}, not a fitted estimator or pipeline.")
    if schema.task == "classification" and not (
        is_classifier(estimator) or hasattr(estimator, "predict_proba")
    ):
        raise _fail(
            f"The schema says classification, but {type(estimator).__name__} is not a classifier.", "schema"
        )
    if schema.task == "classification" and not hasattr(estimator, "predict_proba"):
        raise _fail(f"{type(estimator).__name__} gives no class probabilities (predict_proba).", "schema")
    if schema.task == "regression" and is_classifier(estimator) and not is_regressor(estimator):
        raise _fail(f"The schema says regression, but {type(estimator).__name__} is a classifier.", "schema")
    columns = _sklearn_columns(estimator, schema)
    return ImportedModel(estimator, source=SKOPS, columns=columns, renamed=list(columns), categorical=[])


def _fit_catboost(estimator: Any, schema: FeatureSchema) -> ImportedModel:
    loss = str(estimator.get_all_params().get("loss_function", ""))
    is_classifier_loss = loss.split(":")[0] in CATBOOST_CLASSIFICATION_LOSSES
    if (schema.task == "classification") != is_classifier_loss:
        what = "a classifier" if is_classifier_loss else "a regressor"
        raise _fail(
            f"The schema says {schema.task}, but the CatBoost model is {what} (loss {loss}).", "schema"
        )
    model_names = [str(name) for name in estimator.feature_names_]
    names = schema.feature_names
    if len(model_names) != len(names):
        raise _fail(f"The model takes {len(model_names)} features; the schema lists {len(names)}.", "schema")
    if set(model_names) == set(names):
        columns = model_names  # by name, in the model's order
    else:
        default = [str(position) for position in range(len(model_names))]
        if model_names != default:
            raise _fail(
                "The schema's column names differ from the model's: "
                + ", ".join(f"'{name}'" for name in model_names[:20])
                + ".",
                "schema",
            )
        columns = names  # a model trained without names takes the schema's order
    categorical_positions = set(int(index) for index in estimator.get_cat_feature_indices())
    kinds = {feature.name: feature.kind for feature in schema.features}
    problems = []
    for position, name in enumerate(columns):
        takes_categories = position in categorical_positions
        if takes_categories and kinds[name] == "numeric":
            problems.append(f"'{name}' is a categorical feature of the model but numeric in the schema")
        if not takes_categories and kinds[name] != "numeric":
            problems.append(f"'{name}' is a numeric feature of the model but {kinds[name]} in the schema")
    if problems:
        raise _fail("The schema does not match the model: " + "; ".join(problems[:10]) + ".", "schema")
    categorical = [name for position, name in enumerate(columns) if position in categorical_positions]
    return ImportedModel(
        estimator, source=CATBOOST, columns=columns, renamed=model_names, categorical=categorical
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _model_classes(model: ImportedModel, schema: FeatureSchema) -> list[Any]:
    try:
        classes = [_plain(value) for value in model.classes_]
    except Exception:
        raise _fail("The classifier does not say which classes it predicts (classes_).") from None
    if len(classes) < 2:
        raise _fail("The classifier knows fewer than two classes.")
    if schema.classes is not None and sorted(map(str, schema.classes)) != sorted(map(str, classes)):
        raise _fail(
            f"The schema lists the classes {schema.classes}, but the model predicts {classes}.", "schema"
        )
    return classes


def import_model(
    data: bytes,
    model_file: ModelFile,
    schema: FeatureSchema,
    sample_rows: list[dict[str, Any]],
    *,
    max_bytes: int,
) -> ImportedResult:
    """Load the model, fit it to ``schema`` and predict ``sample_rows`` the way a
    prediction would (input validation, coercion, ``scoring.predict_frame``): every
    prediction and probability must be a finite number. ModelImportError says what
    does not fit."""
    estimator = load_model_file(data, model_file, task=schema.task, max_bytes=max_bytes)
    model = (
        _fit_sklearn(estimator, schema) if model_file.format == SKOPS else _fit_catboost(estimator, schema)
    )
    final = FeatureSchema(
        target=schema.target,
        task=schema.task,
        features=schema.features,
        classes=_model_classes(model, schema) if schema.task == "classification" else None,
    )
    if not sample_rows:
        raise _fail("Give sample rows to check the model on.", "sample")
    try:
        coerced = validate_frame(frame_from_records(sample_rows), final, max_rows=len(sample_rows)).frame
    except MLError as error:
        raise ModelImportError(
            f"The sample rows do not fit the schema: {error.readable()}", {"sample": [error.readable()]}
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicted = predict_frame(model, coerced, final)
    except MLError as error:
        raise _fail(f"Predicting the sample rows failed: {error.message}", "sample") from None
    except Exception as error:  # the model's own refusal, in its words
        raise _fail(
            f"Predicting the sample rows failed: {type(error).__name__}: {str(error)[:300]}", "sample"
        ) from None
    numbers = predicted.drop(columns=["prediction"]) if final.task == "classification" else predicted
    values = numbers.to_numpy(dtype="float64")
    if values.size and not np.all(np.isfinite(values)):
        raise _fail(
            "The model predicted values that are not finite numbers (NaN or infinity) on the sample rows.",
            "sample",
        )
    if final.task == "classification" and not all(
        math.isclose(total, 1.0, abs_tol=1e-6) for total in values.sum(axis=1).tolist()
    ):
        raise _fail("The model's class probabilities do not add up to 1 on the sample rows.", "sample")
    return ImportedResult(model=model, feature_schema=final, sample_rows=len(sample_rows))

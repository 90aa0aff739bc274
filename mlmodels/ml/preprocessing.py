"""Which columns become features (and of which kind), and the scikit-learn
preprocessing that turns coerced feature columns into what an estimator takes.

The preprocessor always receives the output of ``schema.coerce_frame``: numeric
columns as float64 with NaN, categorical and boolean columns as strings with NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .errors import TrainingError
from .schema import Feature, coerce_column, infer_kind

# Categories listed in the feature schema (for forms and input hints); the encoder
# itself still learns every category.
MAX_LISTED_CATEGORIES = 200

# One-hot output is dense (HistGradientBoosting refuses sparse input), so a column
# with thousands of categories would blow up memory: rarer categories beyond this
# many share one "infrequent" column.
MAX_ONE_HOT_CATEGORIES = 50

# What CatBoost sees for a missing categorical value: it needs a string, not NaN.
MISSING_CATEGORY = "__missing__"

# A text column with more distinct values than this share of its rows (and at least
# MIN_DISTINCT_FOR_HIGH_CARDINALITY of them) is a name, ticket or free text: one-hot
# encoding it learns nothing that carries over to new rows.
HIGH_CARDINALITY_SHARE = 0.5
MIN_DISTINCT_FOR_HIGH_CARDINALITY = 20

REASON_IDENTIFIER = "unique on every row (looks like an identifier)"
REASON_CONSTANT = "constant"
REASON_EMPTY = "every value is missing"


def drop_reason_by_counts(kind: str, *, distinct: int, present: int, rows: int) -> str | None:
    """The part of the automatic choice that needs only counts (a dataset's profile
    has them): empty, constant, identifier-like text. None: keep (so far)."""
    if distinct == 0:
        return REASON_EMPTY
    if distinct == 1:
        return REASON_CONSTANT
    if kind == "categorical":
        if distinct == rows:
            return REASON_IDENTIFIER
        if distinct >= MIN_DISTINCT_FOR_HIGH_CARDINALITY and distinct > HIGH_CARDINALITY_SHARE * present:
            return f"{distinct} different values in {present} rows (looks like an identifier or free text)"
    return None


def drop_reason(values: pd.Series, kind: str) -> str | None:
    """Why an automatically chosen column should be left out, or None to keep it."""
    present = values.dropna()
    distinct = int(present.nunique())
    rows = len(values)
    reason = drop_reason_by_counts(kind, distinct=distinct, present=len(present), rows=rows)
    if reason is not None:
        return reason
    if kind == "numeric" and distinct == rows and rows > 2:
        numbers = present.to_numpy(dtype="float64")
        whole = bool(np.all(np.mod(numbers, 1) == 0))
        # Only a whole-number column that counts along the rows or fills a run
        # (1..n) is an identifier; unique measurements (prices, weights) stay.
        sequential = bool(
            np.all(np.diff(numbers) > 0)
            or np.all(np.diff(numbers) < 0)
            or numbers.max() - numbers.min() == rows - 1
        )
        if whole and sequential:
            return REASON_IDENTIFIER
    return None


def _typical(values: pd.Series, kind: str) -> dict[str, Any]:
    """A feature's example value (median of a number, else the most frequent value)
    and a number's range, as plain JSON values; None for an empty column."""
    present = values.dropna()
    if present.empty:
        return {}
    if kind == "numeric":
        numbers = present.to_numpy(dtype="float64")
        median = float(np.median(numbers))
        whole = bool(np.all(np.mod(numbers, 1) == 0))
        return {
            "example": int(round(median)) if whole else round(median, 6),
            "minimum": float(numbers.min()),
            "maximum": float(numbers.max()),
        }
    # A boolean column reads "true" / "false" here, as the predict form's choices.
    return {"example": str(present.value_counts().index[0])}


def _categories(values: pd.Series) -> list[str]:
    return sorted(values.dropna().astype(str).unique().tolist())[:MAX_LISTED_CATEGORIES]


def select_features(
    frame: pd.DataFrame, target: str, requested_features: list[str] | None = None
) -> tuple[list[Feature], list[dict[str, str]]]:
    """Choose the feature columns of ``frame`` and infer their kinds.

    Without ``requested_features`` every column but the target is considered and
    identifiers, constant and empty columns are dropped (each with a reason). With
    ``requested_features`` exactly those columns are used, in the given order.
    """
    if requested_features is not None:
        errors: list[str] = []
        names = list(dict.fromkeys(requested_features))  # drop repeats, keep order
        for name in names:
            if name == target:
                errors.append(f"'{name}' is the target; it cannot also be a feature")
            elif name not in frame.columns:
                errors.append(f"there is no column '{name}'")
        if not names:
            errors.append("choose at least one feature column")
        if errors:
            raise TrainingError("Some requested features cannot be used.", {"features": errors})
        candidates = names
    else:
        candidates = [str(name) for name in frame.columns if name != target]

    features: list[Feature] = []
    dropped: list[dict[str, str]] = []
    for name in candidates:
        kind = infer_kind(frame[name])
        values, _ = coerce_column(frame[name], kind)
        if requested_features is None:
            reason = drop_reason(values, kind)
            if reason is not None:
                dropped.append({"name": name, "reason": reason})
                continue
        categories = _categories(values) if kind != "numeric" else None
        features.append(Feature(name=name, kind=kind, categories=categories, **_typical(values, kind)))
    if not features:
        raise TrainingError(
            "No usable feature columns are left.",
            {
                "features": [
                    "every column other than the target was left out: "
                    + "; ".join(f"{item['name']}: {item['reason']}" for item in dropped[:10])
                ]
            },
        )
    return features, dropped


def _split(features: list[Feature]) -> tuple[list[str], list[str]]:
    numeric = [feature.name for feature in features if feature.kind == "numeric"]
    categorical = [feature.name for feature in features if feature.kind != "numeric"]
    return numeric, categorical


def categorical_indices(features: list[Feature]) -> list[int]:
    """Positions of the categorical and boolean columns in the output of the native
    (CatBoost) preprocessor, which puts numeric columns first."""
    numeric, categorical = _split(features)
    return list(range(len(numeric), len(numeric) + len(categorical)))


def build_preprocessor(features: list[Feature], *, native_categorical: bool = False) -> ColumnTransformer:
    """Numeric: median imputation + scaling; categorical and boolean: most frequent
    value + one-hot (unknown categories at predict time encode as all zeros).

    ``native_categorical`` (CatBoost): numeric columns pass through with NaN, which
    CatBoost handles, and categorical/boolean columns get MISSING_CATEGORY for missing
    values; see ``categorical_indices`` for their positions.
    """
    numeric, categorical = _split(features)
    transformers: list[tuple[str, Any, list[str]]] = []
    if native_categorical:
        if numeric:
            transformers.append(("numeric", "passthrough", numeric))
        if categorical:
            transformers.append(
                (
                    "categorical",
                    SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY),
                    categorical,
                )
            )
        # A DataFrame keeps numeric columns float and categorical ones str, which is
        # what CatBoost wants (a NumPy array would be all objects).
        return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False).set_output(
            transform="pandas"
        )

    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="ignore",
                                sparse_output=False,
                                max_categories=MAX_ONE_HOT_CATEGORIES,
                            ),
                        ),
                    ]
                ),
                categorical,
            )
        )
    # sparse_threshold=0: always dense, see MAX_ONE_HOT_CATEGORIES.
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def feature_counts(features: list[Feature]) -> list[tuple[str, int]]:
    """(kind, distinct values) of fitted features, for encoded_width: the listed
    categories are capped at MAX_LISTED_CATEGORIES, above the one-hot cap."""
    return [(feature.kind, len(feature.categories or [])) for feature in features]


def encoded_width(kinds_and_distinct: list[tuple[str, int]], *, native_categorical: bool) -> int:
    """Columns the preprocessor makes of features given as (kind, distinct values):
    one per numeric feature; one per category (at most MAX_ONE_HOT_CATEGORIES) for a
    one-hot encoded one, or one when the estimator takes categories natively."""
    width = 0
    for kind, distinct in kinds_and_distinct:
        if kind == "numeric" or native_categorical:
            width += 1
        else:
            width += max(1, min(distinct, MAX_ONE_HOT_CATEGORIES))
    return width


def check_encoded_size(
    kinds_and_distinct: list[tuple[str, int]], *, rows: int, native_categorical: bool, limit: int | None
) -> None:
    """Refuse (TrainingError on ``features``) a table whose encoded form, rows x
    columns, exceeds ``limit`` cells: the one rule, used before a training is charged
    (from the dataset's profile) and again by the engine on the rows it fits."""
    if limit is None:
        return
    width = encoded_width(kinds_and_distinct, native_categorical=native_categorical)
    cells = rows * width
    if cells > limit:
        message = (
            f"This training would encode {rows:,} rows x {width:,} columns = {cells:,} values, over the "
            f"limit of {limit:,} (categorical columns become one column per category, up to "
            f"{MAX_ONE_HOT_CATEGORIES} each). Choose fewer categorical features, fewer rows, or CatBoost, "
            "which takes categories as they are."
        )
        raise TrainingError(message, {"features": [message]})

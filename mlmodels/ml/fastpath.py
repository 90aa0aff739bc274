"""The preprocessing of a few rows, without scikit-learn's per-call overhead.

Scoring one row through the one-hot ColumnTransformer that ``preprocessing`` builds
takes ~4.4 ms, almost all of it input validation and dispatch — forty times the
estimator's own ``predict_proba`` on the result. For small frames (one-row and JSON
predictions) ``FastTransform`` does the same arithmetic with NumPy:

* numeric block: the imputer's medians for NaN, then ``(x - mean_) / scale_`` — the
  very operations ``StandardScaler.transform`` performs, so the floats are identical;
* categorical and boolean block: a lookup table holding, for every category the
  encoder knows, the output the fitted imputer + encoder themselves produce for it,
  plus their output for a missing and for an unknown value (so infrequent categories
  and ``handle_unknown`` come out exactly as the encoder writes them).

CatBoost's native preprocessor (numeric columns passed through, a constant for missing
categories, a pandas frame out) is rebuilt as ``NativeTransform``: the same frame,
same column dtypes, without the ColumnTransformer (~2.5 ms for one row).

A transform is only used after it has reproduced the real one exactly on a probe
frame built from the fitted pipeline (every category, missing and unknown values, and
random numbers). Any other pipeline shape — a model from an older engine, say — or any
difference in the probe, and scoring uses scikit-learn as before
(``fast_transform_for`` returns None).
"""

from __future__ import annotations

import threading
import warnings
import weakref
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

# Past this many rows scikit-learn's vectorised transform is as fast (CSV chunks).
MAX_ROWS = 1000
# A column with more categories than this (most of them lumped together as infrequent)
# would make a large table and a slow first prediction: such models keep scikit-learn.
MAX_TABLE_CATEGORIES = 5000

_UNKNOWN = "\x00mlservice-unknown-category\x00"


class _Numeric:
    def __init__(self, columns: list[str], fill: np.ndarray, mean: np.ndarray, scale: np.ndarray):
        self.columns, self.fill, self.mean, self.scale = columns, fill, mean, scale
        self.width = len(columns)

    def write(self, frame: pd.DataFrame, out: np.ndarray) -> None:
        values = np.column_stack([frame[name].to_numpy(dtype="float64") for name in self.columns])
        values = np.where(np.isnan(values), self.fill, values)
        values -= self.mean
        values /= self.scale
        out[:] = values


class _Categorical:
    def __init__(self, column: str, table: dict[str, np.ndarray], missing: np.ndarray, unknown: np.ndarray):
        self.column, self.table, self.missing, self.unknown = column, table, missing, unknown
        self.width = len(missing)

    def write(self, frame: pd.DataFrame, out: np.ndarray) -> None:
        table, missing, unknown = self.table, self.missing, self.unknown
        for row, value in enumerate(frame[self.column].tolist()):
            if value is None or (isinstance(value, float) and value != value):
                out[row] = missing
            else:
                out[row] = table.get(value, unknown)


class FastTransform:
    """``preprocessor.transform(frame)`` for a coerced frame of a few rows."""

    def __init__(self, blocks: list[_Numeric | _Categorical]):
        self.blocks = blocks
        self.width = sum(block.width for block in blocks)

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), self.width), dtype="float64")
        start = 0
        for block in self.blocks:
            block.write(frame, out[:, start : start + block.width])
            start += block.width
        return out


class NativeTransform:
    """CatBoost's preprocessor: numeric columns as they are, categorical ones with
    missing values replaced by the imputer's constant, in the real output's dtypes."""

    def __init__(self, numeric: list[str], categorical: list[str], fill: str, dtypes: dict[str, Any]):
        self.numeric, self.categorical, self.fill, self.dtypes = numeric, categorical, fill, dtypes

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        data: dict[str, Any] = {name: frame[name].to_numpy(dtype="float64") for name in self.numeric}
        for name in self.categorical:
            values = [
                self.fill if value is None or (isinstance(value, float) and value != value) else value
                for value in frame[name].tolist()
            ]
            data[name] = pd.array(values, dtype=self.dtypes[name])
        return pd.DataFrame(data, index=frame.index)


def _parts(preprocessor: ColumnTransformer) -> list[tuple[str, Any, list[str]]] | None:
    """The fitted (name, transformer, columns) parts that produce output, or None when
    a part selects its columns other than by name."""
    parts = []
    for name, transformer, columns in preprocessor.transformers_:
        if transformer == "drop" or (name == "remainder" and not len(columns)):
            continue
        if not isinstance(columns, list) or not all(isinstance(column, str) for column in columns):
            return None
        parts.append((name, transformer, columns))
    return parts


def _native(preprocessor: ColumnTransformer) -> NativeTransform | None:
    numeric: list[str] = []
    categorical: list[str] = []
    fill = None
    parts = _parts(preprocessor)
    if parts is None:
        return None
    for name, transformer, columns in parts:
        if name == "numeric" and type(transformer) is FunctionTransformer and transformer.func is None:
            numeric = columns  # "passthrough", as fitted
        elif (
            name == "categorical"
            and type(transformer) is SimpleImputer
            and transformer.strategy == "constant"
        ):
            if transformer.add_indicator or not isinstance(transformer.fill_value, str):
                return None
            categorical, fill = columns, transformer.fill_value
        else:
            return None
    if not numeric and not categorical:
        return None
    return NativeTransform(numeric, categorical, fill or "", {})


def _steps(pipeline: Any, *types: type) -> list[Any] | None:
    if type(pipeline) is not Pipeline or len(pipeline.steps) != len(types):
        return None
    steps = [step for _, step in pipeline.steps]
    return steps if all(type(step) is kind for step, kind in zip(steps, types, strict=True)) else None


def _numeric_block(transformer: Any, columns: list[str]) -> _Numeric | None:
    steps = _steps(transformer, SimpleImputer, StandardScaler)
    if steps is None:
        return None
    imputer, scaler = steps
    if imputer.strategy != "median" or imputer.add_indicator or scaler.mean_ is None or scaler.scale_ is None:
        return None
    fill = np.asarray(imputer.statistics_, dtype="float64")
    if fill.shape != (len(columns),) or not np.isfinite(fill).all():
        return None  # an all-missing column at fit time is dropped by the imputer
    return _Numeric(
        columns, fill, np.asarray(scaler.mean_, dtype="float64"), np.asarray(scaler.scale_, dtype="float64")
    )


def _categorical_blocks(transformer: Any, columns: list[str]) -> list[_Categorical] | None:
    steps = _steps(transformer, SimpleImputer, OneHotEncoder)
    if steps is None:
        return None
    imputer, encoder = steps
    if imputer.add_indicator or encoder.drop is not None or len(encoder.categories_) != len(columns):
        return None
    categories = [list(values) for values in encoder.categories_]
    if any(len(known) > MAX_TABLE_CATEGORIES for known in categories):
        return None
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * len(columns)
    widths = [
        len(known) - (len(rare) - 1 if rare is not None else 0)
        for known, rare in zip(categories, infrequent, strict=True)
    ]
    # The encoder's own output for every known category, then missing, then unknown.
    rows = max(len(known) for known in categories) + 2
    probe = pd.DataFrame(
        {
            name: pd.Series(
                [known[row % len(known)] for row in range(rows - 2)] + [np.nan, _UNKNOWN], dtype=object
            )
            for name, known in zip(columns, categories, strict=True)
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "unknown categories ... encoded as all zeros"
        encoded = np.asarray(transformer.transform(probe), dtype="float64")
    if encoded.shape != (rows, sum(widths)):
        return None
    blocks, start = [], 0
    for name, known, width in zip(columns, categories, widths, strict=True):
        part = encoded[:, start : start + width]
        table = {value: part[row].copy() for row, value in enumerate(known) if isinstance(value, str)}
        blocks.append(_Categorical(name, table, part[rows - 2].copy(), part[rows - 1].copy()))
        start += width
    return blocks


def _probe_frame(fast_blocks: list[_Numeric | _Categorical], seed: int = 0) -> pd.DataFrame:
    """Rows that exercise every branch: each category, missing and unknown values,
    and numbers of every size with some missing."""
    rng = np.random.default_rng(seed)
    categorical = [block for block in fast_blocks if isinstance(block, _Categorical)]
    rows = max([len(block.table) + 2 for block in categorical] + [16])
    columns: dict[str, Any] = {}
    for block in fast_blocks:
        if isinstance(block, _Numeric):
            for position, name in enumerate(block.columns):
                values = rng.normal(block.mean[position], block.scale[position] * 3, size=rows)
                values[rng.random(rows) < 0.2] = np.nan
                columns[name] = values
        else:
            known: list[Any] = list(block.table)
            values = [known[row % len(known)] if known else _UNKNOWN for row in range(rows)]
            values[0], values[-1] = np.nan, _UNKNOWN
            columns[block.column] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


def _one_hot(preprocessor: ColumnTransformer) -> FastTransform | None:
    parts = _parts(preprocessor)
    if parts is None:
        return None
    blocks: list[_Numeric | _Categorical] = []
    for name, transformer, columns in parts:
        if name == "numeric":
            block = _numeric_block(transformer, columns)
            if block is None:
                return None
            blocks.append(block)
        elif name == "categorical":
            categorical = _categorical_blocks(transformer, columns)
            if categorical is None:
                return None
            blocks.extend(categorical)
        else:
            return None
    return FastTransform(blocks) if blocks else None


def _native_probe(native: NativeTransform, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = 16
    columns: dict[str, Any] = {}
    for name in native.numeric:
        values = rng.normal(size=rows) * 10.0 ** rng.integers(-3, 4, size=rows)
        values[rng.random(rows) < 0.25] = np.nan
        columns[name] = values
    for position, name in enumerate(native.categorical):
        values = [f"value-{(row + position) % 5}" for row in range(rows)]
        values[0], values[-1] = np.nan, native.fill
        columns[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


def compile_transform(pipeline: Any) -> FastTransform | NativeTransform | None:
    """The fast transform of ``pipeline``'s preprocessor, or None when it cannot be
    built or does not reproduce the real transform exactly."""
    if type(pipeline) is not Pipeline or len(pipeline.steps) != 2:
        return None
    preprocessor = pipeline.steps[0][1]
    if type(preprocessor) is not ColumnTransformer or not hasattr(preprocessor, "transformers_"):
        return None
    native = _native(preprocessor)
    if native is not None:
        probe = _native_probe(native)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = preprocessor.transform(probe)
        if not isinstance(expected, pd.DataFrame):
            return None
        native.dtypes = {name: expected[name].dtype for name in native.categorical}
        try:
            pd.testing.assert_frame_equal(native(probe), expected, check_exact=True)
        except AssertionError:
            return None
        return native
    fast = _one_hot(preprocessor)
    if fast is None:
        return None
    probe = _probe_frame(fast.blocks)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = preprocessor.transform(probe)
    if not isinstance(expected, np.ndarray) or expected.dtype != np.float64:
        return None
    got = fast(probe)
    return fast if got.shape == expected.shape and np.array_equal(got, expected) else None


_compiled: weakref.WeakKeyDictionary[Any, FastTransform | NativeTransform | None] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def fast_transform_for(pipeline: Any) -> FastTransform | NativeTransform | None:
    """The compiled transform of this (fitted) pipeline, built once per pipeline object."""
    with _lock:
        if pipeline in _compiled:
            return _compiled[pipeline]
    try:
        fast = compile_transform(pipeline)
    except Exception:  # an unexpected shape is a reason to use scikit-learn, not to fail
        fast = None
    with _lock:
        _compiled[pipeline] = fast
    return fast

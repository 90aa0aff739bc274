"""The feature schema a model is trained with, and the one coercion of raw values into
the types the pipeline expects. Training and prediction both go through
``coerce_frame`` so a value means the same thing at fit time and at predict time.

Kinds:
- ``numeric``: float64; missing tokens become NaN; anything else unreadable is a problem.
- ``categorical``: stripped strings (``1.0`` read from JSON and ``1`` read from CSV are
  both ``"1"``); missing tokens become NaN.
- ``boolean``: the strings ``"true"`` / ``"false"``; missing tokens become NaN.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

KINDS = ("numeric", "categorical", "boolean")
TASKS = ("classification", "regression")

# Spellings of "no value" seen in real CSVs (R writes NA, UCI writes ?, TCGA writes --).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "--", "-", "#n/a", "missing"})
TRUE_TOKENS = frozenset({"true", "t", "yes", "y"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n"})

# The largest magnitude a number fed to a model may have. Finite but larger values
# overflow inside the pipelines: forests and boosting work in float32 (at most 3.4e38,
# after standardising, which divides by the column's spread), and the scaler squares
# values (past 1e154 that is infinite). Refused at upload and prediction alike.
MAX_ABS_NUMBER = 1e30


@dataclass
class Feature:
    name: str
    kind: str
    categories: list[str] | None = None
    # From the training data, for the predict form: a typical value (the median of a
    # number, the most frequent value otherwise) and a number's range. Models trained
    # before these were kept have None.
    example: Any = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class FeatureSchema:
    target: str
    task: str
    features: list[Feature]
    classes: list[Any] | None = None
    # Columns left out at fit time: [{"name": ..., "reason": ...}]
    dropped: list[dict[str, str]] = field(default_factory=list)

    @property
    def feature_names(self) -> list[str]:
        return [feature.name for feature in self.features]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        return cls(
            target=data["target"],
            task=data["task"],
            features=[Feature(**feature) for feature in data["features"]],
            classes=data.get("classes"),
            dropped=list(data.get("dropped") or []),
        )


@dataclass
class CoercionProblem:
    """A value that cannot be read as its column's kind. ``row`` counts from 1 over
    the rows given (the caller adds any offset, e.g. a CSV header line)."""

    row: int
    column: str
    value: str


# Floats at or above 2**53 are all "whole" but no longer exact integers, and int64 overflows
# near 2**63: leave those in float notation rather than print a wrong integer.
_EXACT_INTEGER_LIMIT = 2.0**53


def _scalar_text(value: Any) -> Any:
    """One present value of an object column as text, spelled as ``_as_text`` spells
    the same value in a typed column (JSON mixes types in one column: 1.0, "x", true)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return np.nan
        if np.isfinite(value) and value % 1 == 0 and abs(value) < _EXACT_INTEGER_LIMIT:
            return str(int(value))
        return str(value)
    return str(value).strip()


def _as_text(series: pd.Series) -> pd.Series:
    """Strings for every present value, NaN for missing ones; floats that are whole
    numbers lose their ``.0`` so JSON ``1.0`` and CSV ``1`` agree."""
    if pd.api.types.is_bool_dtype(series):
        return series.map({True: "true", False: "false"}).astype(object)
    if pd.api.types.is_float_dtype(series):
        values = series.to_numpy()
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < _EXACT_INTEGER_LIMIT)
        text = series.astype(str).astype(object)
        text[whole] = series[whole].astype("int64").astype(str)
        text[series.isna()] = np.nan
        return text
    if pd.api.types.is_numeric_dtype(series):
        text = series.astype(str).astype(object)
        text[series.isna()] = np.nan
        return text
    text = series.astype(object)
    present = text.notna()
    if pd.api.types.infer_dtype(text, skipna=True) in ("string", "empty"):
        return text.where(~present, text[present].astype(str).str.strip())
    # Mixed Python values (from JSON records): spell each like its typed-column twin.
    return text.where(~present, text[present].map(_scalar_text))


def missing_mask(text: pd.Series) -> pd.Series:
    """True where a text value is absent or spelled as one of MISSING_TOKENS."""
    return text.isna() | text.str.lower().isin(MISSING_TOKENS).fillna(False).astype(bool)


def out_of_range(values: pd.Series) -> pd.Series:
    """True where a coerced numeric value is beyond ±MAX_ABS_NUMBER (NaN is not)."""
    return pd.Series(
        np.abs(values.to_numpy(dtype="float64", na_value=np.nan)) > MAX_ABS_NUMBER, index=values.index
    )


def too_large_message(value: float) -> str:
    """Why a number beyond ±MAX_ABS_NUMBER is refused, the same words everywhere."""
    return f"{value:g} is too large: numbers must be between -{MAX_ABS_NUMBER:g} and {MAX_ABS_NUMBER:g}"


def coerce_column(series: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """Coerce one column to ``kind``. Returns the values and a boolean mask of the
    present values that could not be read (only numeric and boolean can fail)."""
    if kind == "numeric" and pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        bad = pd.Series(False, index=series.index)
        infinite = ~np.isfinite(values.fillna(0.0).to_numpy())
        if infinite.any():
            bad = pd.Series(infinite, index=series.index)
            values = values.where(~bad)
        return values, bad
    if _is_arrow_text(series):
        fast = _coerce_arrow_text(series, kind)
        if fast is not None:
            return fast
    text = _as_text(series)
    missing = missing_mask(text)
    if kind == "numeric":
        values = pd.to_numeric(text.where(~missing), errors="coerce").astype("float64")
        with np.errstate(invalid="ignore"):
            bad = (~missing & (values.isna() | ~np.isfinite(values.fillna(0.0)))).astype(bool)
        return values.where(~bad), bad
    if kind == "boolean":
        lowered = text.str.lower()
        values = pd.Series(np.nan, index=series.index, dtype=object)
        values[lowered.isin(TRUE_TOKENS | {"1"}).fillna(False).astype(bool)] = "true"
        values[lowered.isin(FALSE_TOKENS | {"0"}).fillna(False).astype(bool)] = "false"
        bad = (~missing & values.isna()).astype(bool)
        return values, bad
    if kind == "categorical":
        return text.where(~missing, np.nan).astype(object), pd.Series(False, index=series.index)
    raise ValueError(f"unknown kind {kind!r}")


# Judging a whole text column as numbers is slow when it fails (pandas then parses each
# value); this many values from the top usually settle it first.
_KIND_SAMPLE_ROWS = 1000


def infer_kind(text: pd.Series) -> str:
    """The kind of a raw text column: the first of ``numeric`` and ``boolean`` that
    reads every present value (by ``coerce_column``, so a column never fails the
    coercion its kind implies later), else ``categorical``. Numeric is tried first, so a
    0/1 column stays numeric.

    The one rule for both the dataset's column kinds (csvio) and the features' kinds
    (preprocessing), so a column is not shown as one kind and trained as another.

    A column with no present value is numeric: it coerces to all NaN, which the numeric
    imputer handles and the profile shows as an empty column; automatic feature selection
    leaves it out anyway, and models trained so far recorded it as numeric.
    """
    for kind in ("numeric", "boolean"):
        _, bad_in_sample = coerce_column(text.iloc[:_KIND_SAMPLE_ROWS], kind)
        if bad_in_sample.any():
            continue
        _, bad = coerce_column(text, kind)
        if not bad.any():
            return kind
    return "categorical"


# --- Fast path for Arrow-backed text --------------------------------------------------
# CSV tables are read with pyarrow and arrive as pandas' Arrow-backed ``str`` columns.
# Going through Python string objects (``_as_text``) costs about a microsecond per
# value, which dominates scoring a million-row file; Arrow compute kernels do the same
# strip / lower / missing-token / parse steps in C. The results are the same as the
# generic path: when Arrow cannot parse a numeric column we fall back to it, so values
# Arrow rejects are judged by exactly the same pandas rules as everywhere else.

_MISSING_TOKENS_ARROW = pa.array(sorted(MISSING_TOKENS), type=pa.large_string())
_TRUE_ARROW = pa.array(sorted(TRUE_TOKENS | {"1"}), type=pa.large_string())
_FALSE_ARROW = pa.array(sorted(FALSE_TOKENS | {"0"}), type=pa.large_string())


def _is_arrow_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _to_bool_numpy(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _numbers_as_written(text: pa.ChunkedArray, index: pd.Index) -> tuple[pd.Series, pd.Series] | None:
    """The common numeric column in one parse: every cell empty or a number Arrow reads
    exactly as written (no surrounding space, so stripping would change nothing). Only
    the cells that did not give a finite number (empty, absent, ``nan``, ``inf``, too
    large) are looked at again, with the same missing tokens as the full path. None when
    some cell needs the full path."""
    present = pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)
    try:
        parsed = pc.cast(present, pa.float64())
    except pa.ArrowInvalid:
        return None
    values = np.array(parsed.to_numpy(zero_copy_only=False), dtype="float64")  # absent: NaN
    bad = np.zeros(len(values), dtype=bool)
    odd = np.flatnonzero(~np.isfinite(values))
    if len(odd):
        spelled = pc.ascii_lower(pc.take(text, pa.array(odd)))
        missing = pc.or_kleene(pc.is_null(spelled), pc.is_in(spelled, value_set=_MISSING_TOKENS_ARROW))
        bad[odd] = ~_to_bool_numpy(missing)
        values[odd] = np.nan
    return pd.Series(values, index=index), pd.Series(bad, index=index)


def _coerce_arrow_text(series: pd.Series, kind: str) -> tuple[pd.Series, pd.Series] | None:
    """``coerce_column`` for Arrow-backed text, or None to use the generic path."""
    text = pa.chunked_array(series.array.__arrow_array__()).cast(pa.large_string())
    if kind == "numeric":
        fast = _numbers_as_written(text, series.index)
        if fast is not None:
            return fast
    stripped = pc.utf8_trim_whitespace(text)
    # ASCII lowering is enough to compare with the (ASCII) tokens and costs nothing.
    lowered = pc.ascii_lower(stripped)
    missing = pc.or_kleene(pc.is_null(stripped), pc.is_in(lowered, value_set=_MISSING_TOKENS_ARROW))
    missing_np = _to_bool_numpy(missing)
    index = series.index
    if kind == "numeric":
        present = pc.if_else(missing, pa.scalar(None, pa.large_string()), stripped)
        try:
            parsed = pc.cast(present, pa.float64())
        except pa.ArrowInvalid:
            return None  # some value is not a number: let pandas judge each one
        # to_numpy can be a read-only view of Arrow memory: copy before writing NaNs.
        values = np.array(parsed.to_numpy(zero_copy_only=False), dtype="float64")
        with np.errstate(invalid="ignore"):
            bad_np = ~missing_np & ~np.isfinite(values)
        values[bad_np] = np.nan
        return pd.Series(values, index=index), pd.Series(bad_np, index=index)
    if kind == "boolean":
        is_true = _to_bool_numpy(pc.is_in(lowered, value_set=_TRUE_ARROW))
        is_false = _to_bool_numpy(pc.is_in(lowered, value_set=_FALSE_ARROW))
        values = np.full(len(series), np.nan, dtype=object)
        values[is_true] = "true"
        values[is_false] = "false"
        bad_np = ~missing_np & ~is_true & ~is_false
        return pd.Series(values, index=index, dtype=object), pd.Series(bad_np, index=index)
    if kind == "categorical":
        values = np.array(stripped.to_numpy(zero_copy_only=False), dtype=object)
        values[missing_np] = np.nan
        return (
            pd.Series(values, index=index, dtype=object),
            pd.Series(np.zeros(len(series), dtype=bool), index=index),
        )
    raise ValueError(f"unknown kind {kind!r}")


def _shown(value: Any) -> str:
    """A refused value as the user wrote it (JSON spells booleans true/false)."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)[:50]


def coerce_frame(
    frame: pd.DataFrame, features: list[Feature]
) -> tuple[pd.DataFrame, list[CoercionProblem], int]:
    """Coerce the named feature columns of ``frame`` (which must all be present).

    Returns the coerced frame (feature columns only, in schema order, fresh 0-based
    index), up to the first 20 problems in row order, and the total problem count.
    """
    coerced: dict[str, pd.Series] = {}
    problems: list[CoercionProblem] = []
    total = 0
    positions = pd.RangeIndex(len(frame))
    for feature in features:
        column = frame[feature.name].reset_index(drop=True)
        values, bad = coerce_column(column, feature.kind)
        coerced[feature.name] = values
        count = int(bad.sum())
        if count:
            total += count
            for position in positions[bad.to_numpy()][:20]:
                problems.append(
                    CoercionProblem(
                        row=int(position) + 1,
                        column=feature.name,
                        value=_shown(column.iloc[position]),
                    )
                )
    problems.sort(key=lambda problem: (problem.row, problem.column))
    return pd.DataFrame(coerced, index=positions), problems[:20], total


# --- Scalar twin for a few JSON records ------------------------------------------------
# A one-row JSON prediction spends most of its validation time in per-column pandas
# overhead (about 0.2 ms per column, whatever the row count). ``coerce_records`` applies
# the same rules to plain Python values in microseconds. It only ever answers for values
# whose reading is unambiguous under every path of ``coerce_column`` (plain decimal
# numbers, whole floats, the listed tokens); anything else — a value that cannot be read,
# an unusual spelling, a huge integer — makes it return None and the caller uses
# ``coerce_frame``, which is then the one that judges and reports. Tested against
# ``coerce_frame`` over generated records (tests/ml/test_coerce_records.py).

# A number as people write it: sign, digits, point, exponent; nothing else.
PLAIN_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER)
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
_TRUE_SCALARS = TRUE_TOKENS | {"1"}
_FALSE_SCALARS = FALSE_TOKENS | {"0"}


class _Undecided(Exception):
    """The value needs ``coerce_frame``'s judgement."""


def _stripped_text(value: str) -> str | None:
    """The stripped text, or None for a missing token."""
    stripped = value.strip()
    # Python, pandas and Arrow agree on what ASCII whitespace is, not on the rest
    # (\x1c-\x1f, U+0085, U+00A0, ...): leave those edges to the general path.
    if stripped != value.strip(_ASCII_WHITESPACE):
        raise _Undecided
    return None if stripped.lower() in MISSING_TOKENS else stripped


def _number_text(value: Any) -> str | None:
    """A JSON scalar as categorical text, as ``_as_text`` spells it; None when missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) >= _EXACT_INTEGER_LIMIT:
            raise _Undecided  # pandas may hold the column as float64 and print 1e+16
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isfinite(value) and value % 1 == 0 and abs(value) < _EXACT_INTEGER_LIMIT:
            return str(int(value))
        raise _Undecided  # fractional floats as text: leave the spelling to pandas
    if isinstance(value, str):
        return _stripped_text(value)
    raise _Undecided


def _scalar_numeric(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Undecided  # cannot be read as a number: coerce_frame reports it
    if isinstance(value, int):
        if abs(value) >= _EXACT_INTEGER_LIMIT:
            raise _Undecided
        return float(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if not math.isfinite(value) or abs(value) > MAX_ABS_NUMBER:
            raise _Undecided
        return value
    if isinstance(value, str):
        text = _stripped_text(value)
        if text is None:
            return None
        if not _PLAIN_NUMBER.fullmatch(text):
            raise _Undecided
        number = float(text)
        if not math.isfinite(number) or abs(number) > MAX_ABS_NUMBER:
            raise _Undecided  # 1e999, 1e300: coerce_frame's callers judge and report
        return number
    raise _Undecided


def _scalar_boolean(value: Any) -> str | None:
    text = _number_text(value)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in _TRUE_SCALARS:
        return "true"
    if lowered in _FALSE_SCALARS:
        return "false"
    raise _Undecided  # not true or false: coerce_frame reports it


_SCALAR_COERCIONS = {
    "numeric": _scalar_numeric,
    "categorical": _number_text,
    "boolean": _scalar_boolean,
}


def coerce_records(records: list[dict[str, Any]], features: list[Feature]) -> list[list[Any]] | None:
    """``coerce_frame`` for JSON records, value by value: one list per record holding the
    coerced values in schema order (a float or None for numeric features, a string or
    None for the others; None is a missing value). Keys a record lacks are missing
    values. Returns None when any value needs ``coerce_frame`` (see above)."""
    coercions = [(feature.name, _SCALAR_COERCIONS[feature.kind]) for feature in features]
    try:
        return [[coerce(record.get(name)) for name, coerce in coercions] for record in records]
    except _Undecided:
        return None

"""Per-column statistics and chart data for an uploaded table.

Values are read with ``schema.coerce_column``, the same coercion training uses, so the
profile describes the values a model will actually see. The result is plain JSON
(no NaN, no numpy types): it is stored as is and fed to the charts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .csvio import ColumnInfo
from .schema import coerce_column

# A correlation matrix wider than this is unreadable as a heat map and costs O(n²).
MAX_CORRELATION_COLUMNS = 30


def _number(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    value = float(value)
    return value if math.isfinite(value) else None


def _numeric_stats(values: np.ndarray, bins: int) -> dict[str, Any]:
    if not len(values):
        empty = dict.fromkeys(("mean", "std", "min", "q25", "median", "q75", "max"))
        return {**empty, "histogram": {"edges": [], "counts": []}}
    q25, median, q75 = np.percentile(values, [25, 50, 75])
    counts, edges = np.histogram(values, bins=bins)
    return {
        "mean": _number(values.mean()),
        # Sample standard deviation (like pandas); undefined for a single value.
        "std": _number(values.std(ddof=1)) if len(values) > 1 else None,
        "min": _number(values.min()),
        "q25": _number(q25),
        "median": _number(median),
        "q75": _number(q75),
        "max": _number(values.max()),
        "histogram": {"edges": [float(edge) for edge in edges], "counts": counts.tolist()},
    }


def _top_values(values: pd.Series, max_categories: int) -> dict[str, Any]:
    counts = values.value_counts(sort=False)
    # Most frequent first; ties by value so the same data always gives the same chart.
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    top = [{"value": str(value), "count": int(count)} for value, count in ordered[:max_categories]]
    other = int(sum(count for _, count in ordered[max_categories:]))
    return {"top": top, "other_count": other}


def _correlations(numeric: dict[str, np.ndarray]) -> dict[str, Any]:
    # Constant or empty columns have no correlation with anything; leave them out
    # rather than fill the matrix with blanks. Beyond the cap, the first columns win
    # (predictable for the user, unlike a choice by variance, which depends on units).
    usable = [
        name
        for name, values in numeric.items()
        if np.count_nonzero(~np.isnan(values)) > 1 and np.nanstd(values) > 0
    ][:MAX_CORRELATION_COLUMNS]
    if not usable:
        return {"columns": [], "matrix": []}
    matrix = pd.DataFrame({name: numeric[name] for name in usable}).corr(method="pearson")
    values = matrix.to_numpy()
    return {
        "columns": usable,
        "matrix": [[_number(cell) for cell in row] for row in values],
    }


def profile_table(
    frame: pd.DataFrame,
    columns: list[ColumnInfo],
    *,
    max_categories: int = 20,
    bins: int = 20,
) -> dict[str, Any]:
    """Statistics per column (missing, unique, numeric summary and histogram, or top
    values) and Pearson correlations between numeric columns.

    ``missing`` counts empty cells and missing tokens; ``invalid`` counts present values
    that do not read as the column's kind (only possible when the kind was changed from
    the inferred one) — those are left out of the statistics like missing ones.
    """
    rows = len(frame)
    profiles: list[dict[str, Any]] = []
    numeric: dict[str, np.ndarray] = {}
    for info in columns:
        values, bad = coerce_column(frame[info.name], info.kind)
        absent = values.isna().to_numpy()
        invalid = int(bad.sum())
        missing = int(absent.sum()) - invalid
        present = values[~absent]
        profile: dict[str, Any] = {
            "name": info.name,
            "kind": info.kind,
            "missing": missing,
            "missing_pct": round(100.0 * missing / rows, 2) if rows else 0.0,
            "invalid": invalid,
            "unique": int(present.nunique()),
        }
        if info.kind == "numeric":
            array = values.to_numpy(dtype="float64")
            numeric[info.name] = array
            profile.update(_numeric_stats(array[~absent], bins))
        else:
            profile.update(_top_values(present, max_categories))
        profiles.append(profile)
    return {"rows": rows, "columns": profiles, "correlations": _correlations(numeric)}

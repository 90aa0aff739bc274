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
from .preprocessing import REASON_CONSTANT, REASON_EMPTY, drop_reason
from .schema import coerce_column

# A correlation matrix wider than this is unreadable as a heat map and costs O(n²).
MAX_CORRELATION_COLUMNS = 30
# A numeric column with at most this many distinct values (a count, a rating, a 0/1
# flag) is drawn as one bar per value: a histogram would bin 1, 2, 3 into odd ranges.
FEW_VALUES = 20
# Of the columns training leaves out as identifiers (an id, a name, a ticket), the
# text ones whose values average this many characters are free text.
FREE_TEXT_MIN_LENGTH = 25
# Alerts: a missing share from this percentage, a correlation from this magnitude,
# a class (of a column with 2..IMBALANCE_MAX_CLASSES values) below this share.
MISSING_ALERT_PCT = 20.0
CORRELATION_ALERT = 0.9
MAX_CORRELATION_ALERTS = 10
IMBALANCE_SHARE = 0.1
IMBALANCE_MAX_CLASSES = 10


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


def _value_counts(values: np.ndarray) -> list[dict[str, Any]]:
    """One bar per distinct value, in value order (a rating reads 1, 2, 3, not by count)."""
    distinct, counts = np.unique(values, return_counts=True)
    return [
        {"value": _number(value), "count": int(count)} for value, count in zip(distinct, counts, strict=True)
    ]


def _role(info: ColumnInfo, values: pd.Series, present: pd.Series) -> str:
    """What the column looks like: ``id`` (an identifier), ``text`` (free text),
    ``constant``, ``empty`` or plain ``data`` — by the rule training uses to leave a
    column out (``preprocessing.drop_reason``), so the alert and the model agree."""
    reason = drop_reason(values, info.kind)
    if reason is None:
        return "data"
    if reason == REASON_CONSTANT:
        return "constant"
    if reason == REASON_EMPTY:
        return "empty"
    if info.kind == "categorical" and float(present.astype(str).str.len().mean()) >= FREE_TEXT_MIN_LENGTH:
        return "text"
    return "id"


def _chart(info: ColumnInfo, role: str, unique: int) -> str:
    """The chart the page draws: ``histogram``, ``values`` (one bar per numeric value),
    ``top`` (most frequent values) or ``none`` (ids, free text, empty or constant)."""
    if role in ("id", "text", "empty"):
        return "none"
    if info.kind == "numeric":
        return "values" if unique <= FEW_VALUES else "histogram"
    return "top"


def _share(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}%" if total else "0%"


def _column_alerts(profile: dict[str, Any], rows: int) -> list[dict[str, Any]]:
    name, role = profile["name"], profile["role"]
    alerts: list[dict[str, Any]] = []
    if profile["missing_pct"] >= MISSING_ALERT_PCT:
        alerts.append(
            {
                "kind": "missing",
                "columns": [name],
                "message": f"{name}: {profile['missing_pct']:g}% of the values are missing.",
            }
        )
    if role == "constant":
        alerts.append(
            {
                "kind": "constant",
                "columns": [name],
                "message": f"{name} has a single value: it tells a model nothing.",
            }
        )
    elif role == "id":
        alerts.append(
            {
                "kind": "id_like",
                "columns": [name],
                "message": f"{name} looks like an identifier ({profile['unique']:,} different values): "
                "no chart, and training leaves it out unless you choose it.",
            }
        )
    elif role == "text":
        alerts.append(
            {
                "kind": "free_text",
                "columns": [name],
                "message": f"{name} is free text ({profile['unique']:,} different values): "
                "no chart, and training leaves it out unless you choose it.",
            }
        )
    counts = profile.get("values") or profile.get("top") or []
    present = rows - profile["missing"] - profile["invalid"]
    if 2 <= profile["unique"] <= IMBALANCE_MAX_CLASSES and present and role == "data":
        rarest = min(counts, key=lambda item: item["count"])
        if rarest["count"] < IMBALANCE_SHARE * present:
            value = rarest["value"]
            label = f"{value:g}" if isinstance(value, float) else value
            alerts.append(
                {
                    "kind": "imbalanced",
                    "columns": [name],
                    "message": f"{name} is imbalanced: {label} is only "
                    f"{_share(rarest['count'], present)} of the rows. As a target, accuracy "
                    "alone would flatter a model.",
                }
            )
    return alerts


def _correlation_alerts(correlations: dict[str, Any]) -> list[dict[str, Any]]:
    names, matrix = correlations["columns"], correlations["matrix"]
    pairs = [
        (abs(matrix[i][j]), names[i], names[j], matrix[i][j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if matrix[i][j] is not None and abs(matrix[i][j]) >= CORRELATION_ALERT
    ]
    pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
    return [
        {
            "kind": "correlated",
            "columns": [first, second],
            "message": f"{first} and {second} are highly correlated ({value:+.2f}): "
            "they carry nearly the same information.",
        }
        for _, first, second, value in pairs[:MAX_CORRELATION_ALERTS]
    ]


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
    values), Pearson correlations between numeric columns, and ``alerts``: what a
    person should know before training (missing values, constant, id-like and
    free-text columns, highly correlated pairs, imbalanced classes).

    Each column says which ``chart`` fits it (see ``_chart``) and its ``role``; a
    numeric column with few distinct values also has ``values`` (one count per value).

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
        unique = int(present.nunique())
        role = _role(info, values, present)
        profile: dict[str, Any] = {
            "name": info.name,
            "kind": info.kind,
            "missing": missing,
            "missing_pct": round(100.0 * missing / rows, 2) if rows else 0.0,
            "invalid": invalid,
            "unique": unique,
            "role": role,
            "chart": _chart(info, role, unique),
        }
        if info.kind == "numeric":
            array = values.to_numpy(dtype="float64")
            numeric[info.name] = array
            profile.update(_numeric_stats(array[~absent], bins))
            if profile["chart"] == "values":
                profile["values"] = _value_counts(array[~absent])
        else:
            profile.update(_top_values(present, max_categories))
        profiles.append(profile)
    correlations = _correlations(numeric)
    alerts = [alert for profile in profiles for alert in _column_alerts(profile, rows)]
    alerts += _correlation_alerts(correlations)
    return {"rows": rows, "columns": profiles, "correlations": correlations, "alerts": alerts}

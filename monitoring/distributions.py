"""Distributions of a model's inputs and outputs, summarised on fixed bins: the
training reference kept when a model becomes ready, and the same bins counted again
over a sample of recent predictions. Plain Python (numpy only, no Django): the drift
math is tested and reused on its own.

Bins, the same for the training data and the recent sample:

- a number: the training deciles are the edges, ``(-inf, d1], (d1, d2], …, (d9, inf)``
  (equal deciles merge: a column of few values has fewer bins), and ``missing``;
- a category (or a boolean, ``"true"``/``"false"``): one bin per training category, up
  to ``MAX_CATEGORIES`` most frequent ones (the rarer ones share ``other``), plus
  ``unknown`` (a value never seen in training: only when every training category is
  listed) and ``missing``.

Every share is a fraction of all rows, missing ones included: the shares of a
distribution add up to 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

MISSING = "missing"
UNKNOWN = "unknown"
OTHER = "other"
DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
# Categories listed one by one in a reference; a free-text column would otherwise make
# the reference as big as the data.
MAX_CATEGORIES = 200
# Classes counted one by one in the prediction tallies (and Prometheus labels).
MAX_CLASSES = 50


def as_numbers(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """float64, None and NaN alike as NaN."""
    return np.array([np.nan if value is None else value for value in values], dtype="float64")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _share(count: int | float, total: int) -> float:
    return float(count) / total if total else 0.0


def decile_edges(values: np.ndarray) -> list[float]:
    present = values[~np.isnan(values)]
    if not present.size:
        return []
    # Six significant digits: readable bounds (also as Prometheus' ``le``), and the
    # shares are counted on the rounded edges, so nothing is lost.
    return sorted({float(f"{edge:.6g}") for edge in np.quantile(present, DECILES)})


def numeric_counts(edges: Sequence[float], values: np.ndarray) -> tuple[list[int], int]:
    """Rows per bin (``len(edges) + 1`` bins) and missing rows."""
    missing = np.isnan(values)
    # side="left": a value equal to an edge belongs to the bin that edge closes.
    positions = np.searchsorted(np.asarray(edges, dtype="float64"), values[~missing], side="left")
    counts = np.bincount(positions, minlength=len(edges) + 1)
    return [int(count) for count in counts], int(missing.sum())


def numeric_reference(values: Sequence[Any] | np.ndarray) -> dict[str, Any]:
    numbers = as_numbers(values)
    edges = decile_edges(numbers)
    counts, missing = numeric_counts(edges, numbers)
    total = len(numbers)
    return {
        "kind": "numeric",
        "edges": edges,
        "shares": [_share(count, total) for count in counts],
        "missing": _share(missing, total),
    }


def categorical_reference(values: Sequence[Any], *, kind: str = "categorical") -> dict[str, Any]:
    present = Counter(str(value) for value in values if not _is_missing(value))
    total = len(values)
    listed = present.most_common(MAX_CATEGORIES)
    rest = sum(present.values()) - sum(count for _, count in listed)
    return {
        "kind": kind,
        "categories": {category: _share(count, total) for category, count in listed},
        # True when rarer categories were folded into "other": then a value not listed
        # may still have been seen, and nothing is called unknown.
        "truncated": len(present) > len(listed),
        "other": _share(rest, total),
        "missing": _share(total - sum(present.values()), total),
    }


def feature_reference(values: Sequence[Any] | np.ndarray, kind: str) -> dict[str, Any]:
    if kind == "numeric":
        return numeric_reference(values)
    return categorical_reference(list(values), kind=kind)


def _edge(value: float) -> str:
    return f"{value:.4g}"


def numeric_labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all values"]
    labels = [f"≤ {_edge(edges[0])}"]
    labels += [f"{_edge(low)} – {_edge(high)}" for low, high in zip(edges, edges[1:], strict=False)]
    labels.append(f"> {_edge(edges[-1])}")
    return labels


def recent_shares(reference: dict[str, Any], values: Sequence[Any]) -> list[tuple[str, float, float]]:
    """``(bin label, training share, recent share)`` for every bin of ``reference``,
    the recent shares counted over ``values`` (one value per sampled row)."""
    total = len(values)
    if reference["kind"] == "numeric":
        counts, missing = numeric_counts(reference["edges"], as_numbers(values))
        bins = list(
            zip(
                numeric_labels(reference["edges"]),
                reference["shares"],
                [_share(count, total) for count in counts],
                strict=True,
            )
        )
        return [*bins, (MISSING, reference["missing"], _share(missing, total))]
    categories: dict[str, float] = reference["categories"]
    counted: Counter[str] = Counter()
    for value in values:
        if _is_missing(value):
            counted[MISSING] += 1
        elif (text := str(value)) in categories:
            counted[text] += 1
        else:
            counted[OTHER if reference["truncated"] else UNKNOWN] += 1
    bins = [(category, share, _share(counted[category], total)) for category, share in categories.items()]
    if reference["truncated"] or reference["other"]:
        bins.append((OTHER, reference["other"], _share(counted[OTHER], total)))
    else:
        bins.append((UNKNOWN, 0.0, _share(counted[UNKNOWN], total)))
    return [*bins, (MISSING, reference["missing"], _share(counted[MISSING], total))]


# --- Predictions ---------------------------------------------------------------------------


def target_reference(values: Sequence[Any], *, task: str, classes: Sequence[Any] | None) -> dict[str, Any]:
    """What the model was trained to predict: the share of each class (by its position
    in ``classes``), or a regression target's deciles and shares."""
    if task == "classification":
        names = [str(value) for value in classes or []]
        counted = Counter(str(value) for value in values if not _is_missing(value))
        total = sum(counted.values())
        return {"task": task, "shares": [_share(counted[name], total) for name in names]}
    numbers = as_numbers(values)
    numbers = numbers[~np.isnan(numbers)]
    edges = decile_edges(numbers)
    counts, _ = numeric_counts(edges, numbers)
    return {"task": task, "edges": edges, "shares": [_share(count, len(numbers)) for count in counts]}


# A regressor whose training target is unknown (an imported model) gets these bounds:
# every power of ten from 0.01 to a million, both signs.
GENERIC_VALUE_EDGES = sorted({sign * 10.0**power for power in range(-2, 7) for sign in (-1, 1)} | {0.0})


def value_edges(target: dict[str, Any] | None) -> list[float]:
    """The histogram bounds of a regressor's predictions: its training target's deciles
    (so each bucket held a tenth of what it learned from), else generic ones."""
    edges = (target or {}).get("edges") or []
    return [float(edge) for edge in edges] or list(GENERIC_VALUE_EDGES)


def class_key(position: int) -> str:
    """The tally of a class: its position among the model's classes, the ones past
    MAX_CLASSES together as ``other``."""
    return str(position) if position < MAX_CLASSES else OTHER

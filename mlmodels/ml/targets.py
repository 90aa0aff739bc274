"""What a training run is asked to do, checked before anything is fitted: the target
column (``check_target``: does it suit the task, how many rows and classes does it
give), the holdout share and the random seed, with the limits and defaults the
service's forms and validation take from here. No Django here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import TargetError, TrainingError
from .schema import TASKS, coerce_column

# The share of rows held out for measuring the model: the range a user may choose
# from and the default. The service's forms and validation take them from here.
MIN_TEST_SIZE = 0.05
MAX_TEST_SIZE = 0.5
DEFAULT_TEST_SIZE = 0.2
# The seed when the user gives none: a fixed one, so retraining reproduces a model.
DEFAULT_RANDOM_STATE = 42
MAX_RANDOM_STATE = 2**32 - 1  # NumPy's RandomState takes seeds up to this
# Fewer rows than this cannot give both a fit and a holdout worth reporting.
MIN_ROWS = 5
# One probability column per class goes into every prediction file; beyond this
# the target is almost certainly a number that wants regression.
MAX_CLASSES = 100
# A numeric target with at most this many distinct values may be read as classes
# (a rating, a count of rooms) or as a number; with more it is a number.
NUMERIC_CLASSES_MAX = 20


@dataclass(frozen=True)
class TargetTask:
    """What a target column can be learned as: the tasks it suits and, in words, why
    ("2 values → binary classification")."""

    tasks: tuple[str, ...]
    description: str


def target_task(kind: str, distinct: int) -> TargetTask:
    """The tasks a target of column ``kind`` with ``distinct`` values suits — the one
    rule the train form (from the profile) and the service (from the data) share:
    two values are binary classes, never a regression; text is classes (up to
    MAX_CLASSES); a number is a regression, and classes too while it has at most
    NUMERIC_CLASSES_MAX values."""
    if distinct < 2:
        return TargetTask((), f"{distinct} value{'s' if distinct != 1 else ''} → nothing to learn")
    if distinct == 2 or kind == "boolean":
        return TargetTask(("classification",), "2 values → binary classification")
    if kind == "numeric":
        if distinct <= NUMERIC_CLASSES_MAX:
            return TargetTask(
                ("classification", "regression"),
                f"numeric with {distinct} values → multiclass classification or regression",
            )
        return TargetTask(("regression",), f"numeric with {distinct:,} values → regression")
    if distinct > MAX_CLASSES:
        return TargetTask((), f"{distinct:,} values → too many classes (at most {MAX_CLASSES})")
    return TargetTask(("classification",), f"{distinct} values → multiclass classification")


@dataclass
class TargetSummary:
    target: str
    task: str
    rows_used: int
    rows_dropped_missing_target: int
    # Classification only: sorted class labels (int, float or str) and their counts.
    classes: list[Any] | None = None
    class_counts: list[int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_target(frame: pd.DataFrame, target: str, task: str) -> TargetSummary:
    """Check that ``target`` suits ``task`` and count the rows that can be used.

    Cheap enough for a web request (so a bad target is a 400 before anything is
    charged) and called again inside training. Raises TargetError.
    """
    summary, _ = prepare_target(frame, target, task)
    return summary


def target_error(message: str) -> TargetError:
    return TargetError(message, {"target": [message]})


def quote_label(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _normalise_labels(text: pd.Series) -> pd.Series:
    """Class labels as JSON-friendly Python values: all int when every label is a whole
    number ("1", "1.0"), all float when every label is a number, else stripped str."""
    uniques = text.unique().tolist()
    mapping: dict[str, Any] = {}
    for kind in (int, float):
        mapping.clear()
        for label in uniques:
            number = _parse_number(label, kind)
            if number is None:
                break
            mapping[label] = number
        else:
            return text.map(mapping).astype(object)
    return text.astype(object)


def _parse_number(label: str, kind: type) -> int | float | None:
    if "_" in label:  # int("1_000") is valid Python, but not a label anyone means
        return None
    try:
        number = float(label)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    if kind is int:
        try:
            return int(label)
        except ValueError:
            return int(number) if number.is_integer() else None
    return number


def prepare_target(frame: pd.DataFrame, target: str, task: str) -> tuple[TargetSummary, pd.Series]:
    """The summary and the usable target values (indexed like ``frame``)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    if target not in frame.columns:
        raise target_error(f"there is no column '{target}' in the data")
    column = frame[target]
    if task == "regression":
        values, bad = coerce_column(column, "numeric")
        if bad.any():
            positions = np.flatnonzero(bad.to_numpy())
            first = positions[0]
            others = len(positions) - 1
            more = f" (and {others} more)" if others else ""
            raise target_error(
                f"regression needs a numeric target, but '{target}' has "
                f"{quote_label(str(column.iloc[first]).strip()[:50])} on row {first + 1}{more}"
            )
    else:
        values, _ = coerce_column(column, "categorical")

    present = values.notna().to_numpy()
    rows_used = int(present.sum())
    dropped = len(values) - rows_used
    if rows_used == 0:
        raise target_error(f"the target '{target}' has no values (every row is missing)")
    if rows_used < MIN_ROWS:
        raise target_error(
            f"only {rows_used} rows have a value for '{target}'; at least {MIN_ROWS} are needed"
        )
    values = values[present]

    if task == "regression":
        if values.nunique() == 1:
            raise target_error(
                f"the target '{target}' has the same value ({values.iloc[0]:g}) on every row; "
                "there is nothing to learn"
            )
        summary = TargetSummary(target, task, rows_used, dropped)
        return summary, values

    labels = _normalise_labels(values)
    counts = labels.value_counts()
    classes = sorted(counts.index.tolist())
    if len(classes) < 2:
        raise target_error(
            f"the target '{target}' has only one class ({quote_label(classes[0])}); "
            "classification needs at least two"
        )
    if len(classes) > MAX_CLASSES:
        raise target_error(
            f"the target '{target}' has {len(classes)} classes (at most {MAX_CLASSES}); "
            "if it is a number, train a regression model instead"
        )
    rare = [label for label in classes if counts[label] < 2]
    if rare:
        named = ", ".join(quote_label(label) for label in rare[:5])
        more = f" and {len(rare) - 5} more" if len(rare) > 5 else ""
        noun = "class" if len(rare) == 1 else "classes"
        raise target_error(
            f"{noun} {named}{more} of '{target}' {'has' if len(rare) == 1 else 'have'} only "
            "1 row; every class needs at least 2 (one to train on, one to test on)"
        )
    summary = TargetSummary(
        target,
        task,
        rows_used,
        dropped,
        classes=classes,
        class_counts=[int(counts[label]) for label in classes],
    )
    return summary, labels


def check_random_state(random_state: Any) -> None:
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise TrainingError(
            "The random seed must be a whole number.",
            {"random_state": ["must be a whole number"]},
        )
    if not 0 <= int(random_state) <= MAX_RANDOM_STATE:
        raise TrainingError(
            "The random seed is out of range.",
            {"random_state": [f"must be between 0 and {MAX_RANDOM_STATE}"]},
        )


def check_test_size(test_size: Any) -> None:
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, (int, float, np.floating))
        or not MIN_TEST_SIZE <= float(test_size) <= MAX_TEST_SIZE
    ):
        message = f"must be a number from {MIN_TEST_SIZE} to {MAX_TEST_SIZE}"
        raise TrainingError("The test size is out of range.", {"test_size": [message]})

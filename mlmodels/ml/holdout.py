"""The rows a training run or a search works on, and the one holdout split both use.

``train_model`` and ``run_search`` call the same ``load_rows`` and ``split_holdout``,
so with the same ``test_size`` and ``random_state`` a search's cross-validation runs
on exactly the rows the trained model is later fitted on, and never on its holdout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .preprocessing import select_features
from .schema import Feature, coerce_frame
from .targets import TargetSummary, prepare_target, target_error


@dataclass
class Rows:
    """The usable rows: coerced feature columns, labels as the estimator takes them."""

    summary: TargetSummary
    features: list[Feature]
    dropped: list[dict[str, str]]
    frame: pd.DataFrame  # coerced feature columns, positional index
    labels: np.ndarray

    @property
    def classes(self) -> list[Any] | None:
        return self.summary.classes


@dataclass
class Holdout:
    x_train: pd.DataFrame
    x_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray


def label_array(labels: pd.Series) -> np.ndarray:
    """Labels as the array the estimator is fitted with: int64 or float64 for numbers
    (so ``classes_`` compares equal to the schema's ints), object for strings."""
    first = labels.iloc[0]
    if isinstance(first, int):
        return labels.to_numpy(dtype="int64")
    if isinstance(first, float):
        return labels.to_numpy(dtype="float64")
    return labels.to_numpy(dtype=object)


def load_rows(frame: pd.DataFrame, *, target: str, task: str, features: list[str] | None) -> Rows:
    """Check the target, keep the rows that have one (in file order), choose and
    coerce the features. Raises TargetError or TrainingError."""
    # A positional index, so selecting the rows that have a target cannot pick up
    # duplicate index labels of a concatenated frame.
    frame = frame.reset_index(drop=True)
    summary, target_values = prepare_target(frame, target, task)
    usable = frame.loc[target_values.index]
    chosen, dropped = select_features(usable, target, features)
    feature_frame, _, _ = coerce_frame(usable, chosen)
    labels = label_array(target_values.reset_index(drop=True))
    return Rows(
        summary=summary,
        features=chosen,
        dropped=dropped,
        frame=feature_frame.reset_index(drop=True),
        labels=labels,
    )


def split_holdout(rows: Rows, *, task: str, test_size: float, random_state: int) -> Holdout:
    """The holdout: ``ceil(test_size * rows)`` rows, stratified for classification."""
    labels = rows.labels
    count = len(labels)
    test_rows = max(1, math.ceil(test_size * count))
    classes = rows.classes
    if task == "classification":
        assert classes is not None
        # A stratified holdout needs every class on both sides.
        test_rows = max(test_rows, len(classes))
        if count - test_rows < len(classes):
            raise target_error(f"{count} rows are too few to train and test {len(classes)} classes")
        stratify = labels
    else:
        stratify = None
    if count - test_rows < 2:
        raise target_error(f"{count} rows are too few to train and test a model")
    x_train, x_test, y_train, y_test = train_test_split(
        rows.frame, labels, test_size=test_rows, random_state=random_state, stratify=stratify
    )
    return Holdout(x_train=x_train, x_test=x_test, y_train=y_train, y_test=y_test)

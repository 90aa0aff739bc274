"""Trainings that can be stopped and bounded (issue 13, item 2): the progress callback
runs during fits and importances, so whatever it raises (the worker's reporter raises
once the model was deleted) stops the training within a batch of trees, not at the end;
growing in batches gives the same model as one fit; and a table too wide once encoded
is refused before any fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

from mlmodels.ml import catalog
from mlmodels.ml.errors import TrainingError
from mlmodels.ml.pipelines import build_pipeline
from mlmodels.ml.preprocessing import MAX_ONE_HOT_CATEGORIES
from mlmodels.ml.schema import Feature
from mlmodels.ml.stopping import FOREST_BATCH, fit_stoppable
from mlmodels.ml.training import importance_repeats, train_model


class Stop(Exception):
    pass


def _table(rows: int = 400, columns: int = 6, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    x, y = make_classification(n_samples=rows, n_features=columns, random_state=seed)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(columns)]), y


def _pipeline(key: str, params: dict, frame: pd.DataFrame, y: np.ndarray):
    spec = catalog.get_algorithm(key)
    features = [Feature(name=name, kind="numeric") for name in frame.columns]
    checked = catalog.validate_hyperparameters(key, params)
    return build_pipeline(spec, checked, features, random_state=7, labels=y)


class StopAfter:
    """A progress callback that raises on its ``calls``-th call."""

    def __init__(self, calls: int) -> None:
        self.calls, self.seen = calls, 0

    def __call__(self, stage: str, percent: int) -> None:
        self.seen += 1
        if self.seen >= self.calls:
            raise Stop(stage)


@pytest.mark.parametrize(
    ("key", "params", "rows"),
    [
        ("random_forest_classifier", {"n_estimators": 45}, 400),
        ("gradient_boosting_classifier", {"max_iter": 70}, 400),
        # Above 10,000 rows histogram boosting stops early on its own validation part.
        ("gradient_boosting_classifier", {"max_iter": 300}, 12_000),
    ],
)
def test_growing_in_batches_gives_the_same_model_as_one_fit(key, params, rows):
    frame, y = _table(rows)
    whole = _pipeline(key, params, frame, y).fit(frame, y)
    batched = _pipeline(key, params, frame, y)
    calls = []
    fit_stoppable(batched, frame, y, report=lambda *a: calls.append(a), stage="fitting", percent=20)
    assert len(calls) > 2  # reported between batches, not only before and after
    np.testing.assert_array_equal(whole.predict_proba(frame), batched.predict_proba(frame))
    assert batched.named_steps["model"].get_params()["warm_start"] is False


def test_a_forest_stops_after_the_batch_in_which_it_was_told_to():
    frame, y = _table()
    pipeline = _pipeline("random_forest_classifier", {"n_estimators": 500}, frame, y)
    with pytest.raises(Stop):
        fit_stoppable(pipeline, frame, y, report=StopAfter(3), stage="fitting", percent=20)
    assert len(pipeline.named_steps["model"].estimators_) == 2 * FOREST_BATCH


def test_catboost_stops_mid_fit_and_the_reason_comes_out():
    frame, y = _table()
    pipeline = _pipeline("catboost_classifier", {"iterations": 3000}, frame, y)
    with pytest.raises(Stop):
        fit_stoppable(pipeline, frame, y, report=StopAfter(10), stage="fitting", percent=20)
    assert pipeline.named_steps["model"].tree_count_ < 20


@pytest.mark.parametrize("stage", ["fitting", "importance", "cross-validating", "refitting"])
def test_a_training_stops_in_every_long_stage(stage):
    frame, y = _table()
    frame["label"] = y

    def report(seen_stage: str, percent: int) -> None:
        if seen_stage == stage:
            raise Stop(seen_stage)

    with pytest.raises(Stop, match=stage):
        train_model(
            frame,
            target="label",
            algorithm="random_forest_classifier",
            hyperparameters={"n_estimators": 30},
            cv_folds=2,
            progress=report,
        )


def test_importance_uses_fewer_repeats_for_many_features():
    assert importance_repeats(6) == 5
    assert importance_repeats(499) == 1
    assert importance_repeats(120) * 120 <= 500


def test_a_table_too_wide_once_encoded_is_refused_before_any_fit():
    rng = np.random.default_rng(0)
    rows = 300
    frame = pd.DataFrame({f"c{i}": rng.choice([f"v{j}" for j in range(80)], size=rows) for i in range(10)})
    frame["label"] = rng.integers(0, 2, size=rows)
    fitted = []

    def report(stage: str, percent: int) -> None:
        fitted.append(stage)

    width = 10 * MAX_ONE_HOT_CATEGORIES
    with pytest.raises(TrainingError) as raised:
        train_model(
            frame,
            target="label",
            algorithm="logistic_regression",
            hyperparameters=None,
            features=list(frame.columns[:-1]),
            max_encoded_cells=rows * width - 1,
            progress=report,
        )
    assert "features" in raised.value.errors
    assert f"{width:,} columns" in raised.value.message
    assert "fitting" not in fitted
    # CatBoost takes the categories as they are: one column each, well within the limit.
    result = train_model(
        frame,
        target="label",
        algorithm="catboost_classifier",
        hyperparameters={"iterations": 20},
        features=list(frame.columns[:-1]),
        max_encoded_cells=rows * width - 1,
    )
    assert result.n_train > 0

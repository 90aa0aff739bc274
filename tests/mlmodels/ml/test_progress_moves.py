"""Progress people can trust (issue 15, item 5): within a long fit the percent moves
from the stage's start towards its end as trees and iterations grow, never backwards
and never past the end."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import make_classification

from mlmodels.ml import catalog
from mlmodels.ml.pipelines import build_pipeline
from mlmodels.ml.schema import Feature
from mlmodels.ml.stopping import fit_stoppable


@pytest.mark.parametrize(
    ("key", "params"),
    [
        ("random_forest_classifier", {"n_estimators": 60}),
        ("gradient_boosting_classifier", {"max_iter": 100}),
        ("catboost_classifier", {"iterations": 60}),
    ],
)
def test_the_percent_moves_through_the_fitting_stage(key, params):
    x, y = make_classification(n_samples=200, n_features=4, random_state=0)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    spec = catalog.get_algorithm(key)
    features = [Feature(name=name, kind="numeric") for name in frame.columns]
    pipeline = build_pipeline(
        spec, catalog.validate_hyperparameters(key, params), features, random_state=7, labels=y
    )
    seen: list[int] = []

    fit_stoppable(
        pipeline,
        frame,
        y,
        report=lambda stage, percent: seen.append(percent),
        stage="fitting",
        percent=20,
        until=69,
    )

    assert seen[0] == 20 and seen[-1] == 69
    assert len(set(seen)) >= 4  # several steps in between, not a jump at the end
    assert seen == sorted(seen)
    assert all(20 <= percent <= 69 for percent in seen)

"""train_model's refit on every row and its optional k-fold cross-validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlmodels.ml.errors import TrainingError
from mlmodels.ml.training import train_model


def scaler_rows(result) -> int:
    """Rows the served pipeline's numeric scaler was fitted on."""
    numeric = result.pipeline.named_steps["preprocess"].named_transformers_["numeric"]
    return int(numeric.named_steps["scale"].n_samples_seen_)


def train(table, **options):
    options.setdefault("algorithm", "logistic_regression")
    options.setdefault("hyperparameters", {})
    return train_model(table, target="label", random_state=3, **options)


def test_the_served_model_is_refit_on_every_row_and_measured_on_the_holdout(raw_table):
    table = raw_table(rows=100)
    refit = train(table)
    holdout_only = train(table, refit_full=False)
    assert refit.n_fit == 100 and scaler_rows(refit) == 100
    assert holdout_only.n_fit == holdout_only.n_train == 80 and scaler_rows(holdout_only) == 80
    assert refit.metrics["refit_full"] is True and holdout_only.metrics["refit_full"] is False
    # The metrics are the holdout fit's either way.
    for key in ("accuracy", "roc_auc", "confusion_matrix", "feature_importance", "n_train", "n_test"):
        assert refit.metrics[key] == holdout_only.metrics[key]
    assert "refit_seconds" in refit.timings and "refit_seconds" not in holdout_only.timings
    coefficients = refit.pipeline.named_steps["model"].coef_
    assert not np.allclose(coefficients, holdout_only.pipeline.named_steps["model"].coef_)


def test_cross_validation_reports_the_primary_metric_accuracy_and_f1(raw_table):
    result = train(raw_table(rows=100), cv_folds=4)
    cv = result.metrics["cross_validation"]
    assert cv["folds"] == 4
    assert set(cv) == {"folds", "roc_auc", "accuracy", "f1"}
    for metric in ("roc_auc", "accuracy", "f1"):
        assert 0.5 < cv[metric]["mean"] <= 1.0 and cv[metric]["std"] >= 0
    json.dumps(result.metrics, allow_nan=False)
    assert "cross_validation" not in train(raw_table(rows=100)).metrics


def test_cross_validation_of_several_classes_uses_macro_one_vs_rest_auc(raw_table):
    table = raw_table(rows=120)
    signal = table["signal"].replace("", "0").astype(float)
    table["label"] = np.select([signal < -0.4, signal > 0.4], ["low", "high"], "middle")
    cv = train(table, cv_folds=3).metrics["cross_validation"]
    assert cv["roc_auc"]["mean"] > 0.7


def test_cross_validation_of_a_regression_reports_rmse_and_r2(raw_table):
    result = train(raw_table(rows=100, task="regression"), algorithm="ridge", cv_folds=5)
    cv = result.metrics["cross_validation"]
    assert set(cv) == {"folds", "rmse", "r2"} and cv["r2"]["mean"] > 0.5


@pytest.mark.parametrize("value", [1, 11, 0, True, 2.5, "5"])
def test_cv_folds_out_of_range_are_refused_on_their_field(raw_table, value):
    with pytest.raises(TrainingError) as caught:
        train(raw_table(rows=40), cv_folds=value)
    assert caught.value.errors["cv_folds"][0].startswith("must be a whole number from 2 to 10")


def test_more_folds_than_a_class_has_rows_is_refused_naming_the_class(raw_table):
    table = raw_table(rows=60)
    table.loc[:4, "label"] = "rare"  # 5 rows: 4 in training
    with pytest.raises(TrainingError) as caught:
        train(table, cv_folds=6)
    message = caught.value.errors["cv_folds"][0]
    assert "class 'rare' has 4" in message and "fewer folds" in message

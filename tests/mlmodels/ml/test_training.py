from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from mlmodels.ml.catalog import ALGORITHMS, check_for_target
from mlmodels.ml.errors import HyperparameterError, TargetError, TrainingError
from mlmodels.ml.metrics import MAX_RESIDUAL_POINTS, MAX_ROC_POINTS, clean_number
from mlmodels.ml.preprocessing import (
    REASON_CONSTANT,
    REASON_IDENTIFIER,
    infer_kind,
    select_features,
)
from mlmodels.ml.schema import coerce_frame
from mlmodels.ml.targets import (
    DEFAULT_RANDOM_STATE,
    DEFAULT_TEST_SIZE,
    MAX_RANDOM_STATE,
    MAX_TEST_SIZE,
    MIN_TEST_SIZE,
    check_target,
)
from mlmodels.ml.training import train_model

# Hyperparameters that keep every algorithm's fit in the tens of milliseconds. A set
# learning rate: CatBoost's automatic one for 20 trees on 64 rows is 0.5, which overfits.
FAST_PARAMS = {"n_estimators": 10, "max_iter": 30, "iterations": 20, "depth": 3, "learning_rate": 0.1}


def fast_params(algorithm: str) -> dict:
    names = ALGORITHMS[algorithm].parameter_names
    return {name: value for name, value in FAST_PARAMS.items() if name in names}


def train(frame: pd.DataFrame, algorithm: str, **options):
    params = options.pop("hyperparameters", fast_params(algorithm))
    return train_model(
        frame, target=options.pop("target", "label"), algorithm=algorithm,
        hyperparameters=params, **options,
    )  # fmt: skip


def predict_raw(result, raw: pd.DataFrame):
    features, problems, total = coerce_frame(raw, result.feature_schema.features)
    assert total == 0, problems
    return features


def assert_json_safe(metrics: dict) -> None:
    json.dumps(metrics, allow_nan=False)


# --- every algorithm -----------------------------------------------------------------


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_trains_on_a_raw_table_and_predicts(raw_table, algorithm):
    spec = ALGORITHMS[algorithm]
    table = raw_table(task=spec.task)
    result = train(table, algorithm)

    schema = result.feature_schema
    assert schema.task == spec.task
    assert schema.feature_names == ["signal", "noise", "color", "flag"]
    assert_json_safe(result.metrics)
    assert result.n_train + result.n_test == len(table)
    assert set(result.timings) == {"fit_seconds", "evaluate_seconds", "refit_seconds", "total_seconds"}
    assert result.n_fit == len(table) and result.metrics["refit_full"] is True

    fresh = raw_table(rows=12, task=spec.task, seed=1)
    predictions = result.pipeline.predict(predict_raw(result, fresh))
    assert len(np.asarray(predictions).reshape(-1)) == 12
    if spec.task == "classification":
        assert schema.classes == ["high", "low"]
        assert list(result.pipeline.classes_) == schema.classes
        probabilities = result.pipeline.predict_proba(predict_raw(result, fresh))
        assert probabilities.shape == (12, 2)
        assert np.allclose(probabilities.sum(axis=1), 1.0)
        assert set(np.asarray(predictions).reshape(-1)) <= {"high", "low"}
        assert result.metrics["accuracy"] > 0.6
    else:
        assert schema.classes is None
        assert result.metrics["r2"] > 0.3


def test_a_rerun_with_the_same_seed_gives_the_same_model_and_metrics(classification_table):
    for algorithm in ("catboost_classifier", "random_forest_classifier"):
        first = train(classification_table, algorithm, random_state=3)
        second = train(classification_table, algorithm, random_state=3)
        assert first.metrics == second.metrics
        rows = predict_raw(first, classification_table)
        assert np.array_equal(first.pipeline.predict_proba(rows), second.pipeline.predict_proba(rows))


def test_progress_is_reported_stage_by_stage(classification_table):
    seen = []
    train(classification_table, "logistic_regression", progress=lambda s, p: seen.append((s, p)))
    # Long stages report again and again (so a stop request is seen), the percent moving
    # on within a stage (issue 15); each stage in order, starting at its own percent.
    stages = [item for index, item in enumerate(seen) if index == 0 or seen[index - 1][0] != item[0]]
    assert stages == [
        ("preparing", 5),
        ("fitting", 20),
        ("evaluating", 70),
        ("importance", 80),
        ("refitting", 90),
        ("done", 100),
    ]
    percents = [percent for _, percent in seen]
    assert percents == sorted(percents)
    assert ("fitting", 69) in seen and ("refitting", 96) in seen


# --- features ------------------------------------------------------------------------


def test_identifier_and_constant_columns_are_dropped_with_reasons(classification_table):
    table = classification_table.assign(
        name=[f"Passenger {number}" for number in range(len(classification_table))],
        empty=[""] * len(classification_table),
    )
    features, dropped = select_features(table, "label")
    assert [feature.name for feature in features] == ["signal", "noise", "color", "flag"]
    assert dropped == [
        {"name": "id", "reason": REASON_IDENTIFIER},
        {"name": "constant", "reason": REASON_CONSTANT},
        {"name": "name", "reason": REASON_IDENTIFIER},
        {"name": "empty", "reason": "every value is missing"},
    ]
    result = train(table, "logistic_regression")
    assert result.feature_schema.dropped == dropped


def test_unique_measurements_are_not_mistaken_for_identifiers():
    table = pd.DataFrame({"weight": ["3", "17", "8", "1", "12", "5"], "label": list("ababab")})
    features, dropped = select_features(table, "label")
    assert [feature.name for feature in features] == ["weight"] and dropped == []


def test_kinds_are_inferred_and_categories_recorded(classification_table):
    features, _ = select_features(classification_table, "label")
    kinds = {feature.name: feature.kind for feature in features}
    assert kinds == {"signal": "numeric", "noise": "numeric", "color": "categorical",
                     "flag": "boolean"}  # fmt: skip
    by_name = {feature.name: feature for feature in features}
    assert by_name["color"].categories == ["blue", "green", "red"]
    assert by_name["flag"].categories == ["false", "true"]
    assert by_name["signal"].categories is None
    assert infer_kind(pd.Series(["0", "1", ""])) == "numeric"


def test_requested_features_are_honoured_and_unknown_ones_refused(classification_table):
    result = train(classification_table, "logistic_regression", features=["id", "color"])
    assert result.feature_schema.feature_names == ["id", "color"]
    assert result.feature_schema.dropped == []

    with pytest.raises(TrainingError) as caught:
        train(classification_table, "logistic_regression", features=["colour", "label"])
    assert caught.value.errors["features"] == [
        "there is no column 'colour'",
        "'label' is the target; it cannot also be a feature",
    ]


# --- categories seen and unseen --------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["catboost_classifier", "logistic_regression"])
def test_a_category_never_seen_in_training_still_predicts(raw_table, classification_table, algorithm):
    result = train(classification_table, algorithm)
    fresh = raw_table(rows=6, seed=2)
    fresh["color"] = ["purple", "red", "", "blue", "ultraviolet", "green"]
    fresh["flag"] = ["yes", "no", "", "yes", "no", "yes"]
    rows = predict_raw(result, fresh)
    assert rows["color"].isna().sum() == 1
    probabilities = result.pipeline.predict_proba(rows)
    assert probabilities.shape == (6, 2) and np.isfinite(probabilities).all()


def test_catboost_gets_the_raw_categories_not_one_hot(classification_table):
    result = train(classification_table, "catboost_classifier")
    preprocess = result.pipeline.named_steps["preprocess"]
    transformed = preprocess.transform(predict_raw(result, classification_table))
    assert list(transformed.columns) == ["signal", "noise", "color", "flag"]
    assert set(transformed["color"]) == {"red", "green", "blue", "__missing__"}
    assert result.pipeline.named_steps["model"].get_params()["cat_features"] == [2, 3]


# --- the target ----------------------------------------------------------------------


def test_rows_without_a_target_are_dropped_and_counted(regression_table):
    regression_table.loc[[0, 10, 20], "label"] = ["", "NA", "?"]
    summary = check_target(regression_table, "label", "regression")
    assert summary.rows_used == len(regression_table) - 3
    assert summary.rows_dropped_missing_target == 3
    result = train(regression_table, "ridge")
    assert result.rows_dropped_missing_target == 3
    assert result.n_train + result.n_test == result.rows_used == len(regression_table) - 3


def test_the_summary_counts_the_classes():
    frame = pd.DataFrame({"label": ["b", "a", "b", " a ", "b", "", "c", "c"]})
    summary = check_target(frame, "label", "classification")
    assert summary.classes == ["a", "b", "c"]
    assert summary.class_counts == [2, 3, 2]
    assert summary.rows_dropped_missing_target == 1


def test_integer_labels_stay_integers_and_come_back_as_python_values(raw_table):
    frame = raw_table()
    frame["label"] = np.where(frame["label"] == "high", "1", "0")
    frame.loc[0, "label"] = "1.0"
    result = train(frame, "random_forest_classifier")
    assert result.feature_schema.classes == [0, 1]
    assert all(type(label) is int for label in result.feature_schema.classes)
    assert list(result.pipeline.classes_) == [0, 1]
    assert result.metrics["confusion_matrix"]["labels"] == [0, 1]


@pytest.mark.parametrize(
    ("labels", "task", "fragment"),
    [
        (["yes"] * 8, "classification", "only one class ('yes')"),
        (["a"] * 4 + ["b"] * 4 + ["rare"], "classification",
         "class 'rare' of 'label' has only 1 row"),
        (["1.5", "2", "n/a", "three", "4", "5", "6"], "regression", "'three' on row 4"),
        (["", "NA"] * 4, "classification", "no values"),
        (["1", "2", "3"], "regression", "at least 5"),
        (["7"] * 6, "regression", "same value (7) on every row"),
    ],
)  # fmt: skip
def test_a_target_that_does_not_suit_the_task_is_refused(labels, task, fragment):
    frame = pd.DataFrame({"label": labels, "x": [str(n) for n in range(len(labels))]})
    with pytest.raises(TargetError) as caught:
        check_target(frame, "label", task)
    assert fragment in caught.value.errors["target"][0]
    assert caught.value.message == caught.value.errors["target"][0]


def test_a_missing_target_column_is_refused():
    with pytest.raises(TargetError) as caught:
        check_target(pd.DataFrame({"x": ["1"]}), "label", "classification")
    assert "no column 'label'" in caught.value.errors["target"][0]


# --- refused settings and wrapped failures ---------------------------------------------


def test_bad_hyperparameters_fail_before_any_work(classification_table):
    with pytest.raises(HyperparameterError) as caught:
        train(classification_table, "svc", hyperparameters={"kernel": "cubic"})
    assert "hyperparameters.kernel" in caught.value.errors


@pytest.mark.parametrize("test_size", [0.01, 0.9, "0.2", True])
def test_test_size_is_bounded(classification_table, test_size):
    with pytest.raises(TrainingError) as caught:
        train(classification_table, "logistic_regression", test_size=test_size)
    assert "test_size" in caught.value.errors


def test_liblinear_refuses_more_than_two_classes():
    iris = load_iris(as_frame=True).frame
    with pytest.raises(TrainingError) as caught:
        train(iris, "logistic_regression", target="target",
              hyperparameters={"solver": "liblinear"})  # fmt: skip
    # The same rule and words as the web request's check (catalog.check_for_target).
    assert caught.value.errors == check_for_target(
        "logistic_regression", {"solver": "liblinear"}, target="target", n_classes=3
    )
    assert "'target' has 3" in caught.value.message


def test_the_split_and_seed_limits_and_defaults_are_the_engines():
    assert (MIN_TEST_SIZE, MAX_TEST_SIZE, DEFAULT_TEST_SIZE) == (0.05, 0.5, 0.2)
    assert DEFAULT_RANDOM_STATE == 42 and MAX_RANDOM_STATE == 2**32 - 1
    defaults = inspect.signature(train_model).parameters
    assert defaults["test_size"].default == DEFAULT_TEST_SIZE
    assert defaults["random_state"].default == DEFAULT_RANDOM_STATE


@pytest.mark.parametrize("random_state", [-1, MAX_RANDOM_STATE + 1])
def test_the_seed_is_bounded(classification_table, random_state):
    with pytest.raises(TrainingError) as caught:
        train(classification_table, "logistic_regression", random_state=random_state)
    assert caught.value.errors == {"random_state": [f"must be between 0 and {MAX_RANDOM_STATE}"]}


def test_a_library_failure_becomes_a_readable_training_error(regression_table):
    # The median imputer drops a column with no values at all, leaving nothing to fit.
    regression_table["blank"] = ""
    with pytest.raises(TrainingError) as caught:
        train(regression_table, "linear_regression", features=["blank"])
    assert caught.value.message.startswith("Linear regression could not be trained")


# --- metrics on known datasets -----------------------------------------------------------


def test_binary_metrics_on_breast_cancer():
    frame = load_breast_cancer(as_frame=True).frame
    result = train(frame, "logistic_regression", target="target")
    metrics = result.metrics
    assert_json_safe(metrics)
    assert metrics["average"] == "binary" and metrics["positive_class"] == 1
    assert metrics["accuracy"] > 0.9 and metrics["roc_auc"] > 0.95
    assert 0 < len(metrics["roc_curve"]["fpr"]) <= MAX_ROC_POINTS
    assert metrics["roc_curve"]["auc"] == pytest.approx(metrics["roc_auc"], abs=1e-3)
    assert np.sum(metrics["confusion_matrix"]["matrix"]) == result.n_test == metrics["n_test"]
    importances = [row["importance"] for row in metrics["feature_importance"]]
    assert importances == sorted(importances, reverse=True)
    assert len(importances) == 30


def test_multiclass_metrics_on_iris():
    result = train(load_iris(as_frame=True).frame, "gradient_boosting_classifier",
                   target="target")  # fmt: skip
    metrics = result.metrics
    assert_json_safe(metrics)
    assert metrics["average"] == "macro" and metrics["precision"] == metrics["precision_macro"]
    assert "roc_curve" not in metrics and metrics["roc_auc"] > 0.9
    assert metrics["confusion_matrix"]["labels"] == [0, 1, 2]
    assert result.feature_schema.classes == [0, 1, 2]


def test_regression_metrics_on_diabetes():
    frame = load_diabetes(as_frame=True).frame
    result = train(frame, "ridge", target="target", test_size=0.5)
    metrics = result.metrics
    assert_json_safe(metrics)
    assert metrics["r2"] > 0.3 and metrics["mae"] < metrics["rmse"]
    residuals = metrics["residuals"]
    assert len(residuals["predicted"]) == len(residuals["residual"]) == result.n_test
    top = metrics["feature_importance"][0]
    assert top["feature"] in {"bmi", "s5", "bp", "s1"} and top["importance"] > 0


def test_residuals_are_a_bounded_deterministic_sample():
    from mlmodels.ml.metrics import regression_metrics

    truth = np.linspace(0, 1, 3000)
    first = regression_metrics(truth, truth + 0.1, random_state=1)
    second = regression_metrics(truth, truth + 0.1, random_state=1)
    assert len(first["residuals"]["residual"]) == MAX_RESIDUAL_POINTS
    assert first == second


def test_numbers_are_cleaned_for_json():
    assert clean_number(float("nan")) is None and clean_number(np.inf) is None
    assert clean_number(np.float32(0.123456789)) == 0.123457
    assert type(clean_number(np.int64(3))) is float


def test_svc_explains_why_a_two_row_class_is_too_small(classification_table):
    classification_table.loc[[0, 1], "label"] = "rare"
    with pytest.raises(TrainingError) as caught:
        # Half the rows held out: one 'rare' row on each side of the split.
        train(classification_table, "svc", test_size=0.5)
    assert "class 'rare' has 1" in caught.value.errors["target"][0]
    # Other algorithms manage with one training row of a class.
    assert train(classification_table, "random_forest_classifier").feature_schema.classes == [
        "high",
        "low",
        "rare",
    ]

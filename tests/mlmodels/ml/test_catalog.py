from __future__ import annotations

import math

import numpy as np
import pytest

from mlmodels.ml.catalog import (
    ALGORITHMS,
    algorithm_params_to_estimator_kwargs,
    check_for_target,
    get_algorithm,
    validate_hyperparameters,
)
from mlmodels.ml.errors import HyperparameterError, MLError

EXPECTED_KEYS = {
    "logistic_regression",
    "svc",
    "random_forest_classifier",
    "gradient_boosting_classifier",
    "catboost_classifier",
    "linear_regression",
    "ridge",
    "lasso",
    "random_forest_regressor",
    "gradient_boosting_regressor",
    "catboost_regressor",
}


def errors_for(key: str, params: dict | None) -> dict[str, list[str]]:
    with pytest.raises(HyperparameterError) as caught:
        validate_hyperparameters(key, params)
    return caught.value.errors


def test_the_catalog_offers_exactly_the_agreed_algorithms():
    assert set(ALGORITHMS) == EXPECTED_KEYS
    for key, spec in ALGORITHMS.items():
        assert spec.key == key
        assert spec.task in ("classification", "regression")
        assert spec.native_categorical == key.startswith("catboost")


def test_hyperparameters_describe_themselves_for_forms_and_the_api():
    for spec in ALGORITHMS.values():
        for parameter in spec.hyperparameters:
            described = parameter.as_dict()
            assert set(described) == {
                "name",
                "type",
                "default",
                "min",
                "max",
                "choices",
                "numbers",
                "help",
                "nullable",
            }
            assert described["type"] in ("int", "float", "bool", "choice")
            assert described["help"]
            if described["type"] == "choice":
                assert described["default"] in described["choices"]
        assert spec.as_dict()["hyperparameters"]


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS))
def test_defaults_are_valid_and_filled_in(key):
    params = validate_hyperparameters(key, None)
    assert params == get_algorithm(key).defaults()
    assert validate_hyperparameters(key, {}) == params


def test_an_unknown_algorithm_is_refused_on_the_algorithm_field():
    with pytest.raises(MLError) as caught:
        get_algorithm("xgboost")
    assert "logistic_regression" in caught.value.errors["algorithm"][0]
    with pytest.raises(HyperparameterError):
        validate_hyperparameters("xgboost", {})


def test_an_unknown_parameter_names_the_allowed_ones():
    errors = errors_for("ridge", {"alpha": 2.0, "alhpa": 1.0})
    assert list(errors) == ["hyperparameters.alhpa"]
    assert "allowed: alpha, fit_intercept" in errors["hyperparameters.alhpa"][0]


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"n_estimators": "3"}, "n_estimators", "must be an integer, not the text '3'"),
        ({"n_estimators": True}, "n_estimators", "not the boolean true"),
        ({"n_estimators": 3.5}, "n_estimators", "whole number"),
        ({"n_estimators": 0}, "n_estimators", "between 1 and 2000"),
        ({"n_estimators": 5000}, "n_estimators", "between 1 and 2000"),
        ({"max_features": "half"}, "max_features", "one of: sqrt, log2, all, or a number greater than 0"),
        ({"min_samples_leaf": None}, "min_samples_leaf", "null is not allowed"),
        ({"class_weight": 1}, "class_weight", "one of: none, balanced"),
    ],
)
def test_a_bad_value_gets_a_precise_message(params, field, fragment):
    errors = errors_for("random_forest_classifier", params)
    assert list(errors) == [f"hyperparameters.{field}"]
    assert fragment in errors[f"hyperparameters.{field}"][0]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value):
    errors = errors_for("svc", {"C": value})
    assert errors == {"hyperparameters.C": ["C must be a finite number"]}


def test_whole_floats_are_accepted_for_integers_and_ints_for_floats():
    params = validate_hyperparameters("random_forest_regressor", {"n_estimators": 30.0})
    assert params["n_estimators"] == 30 and isinstance(params["n_estimators"], int)
    params = validate_hyperparameters("ridge", {"alpha": 2, "fit_intercept": False})
    assert params == {"alpha": 2.0, "fit_intercept": False}
    assert isinstance(params["alpha"], float)


def test_a_bool_parameter_takes_only_booleans():
    errors = errors_for("linear_regression", {"fit_intercept": "false"})
    assert "must be true or false" in errors["hyperparameters.fit_intercept"][0]
    errors = errors_for("linear_regression", {"fit_intercept": 0})
    assert "hyperparameters.fit_intercept" in errors


def test_null_means_no_limit_where_allowed():
    params = validate_hyperparameters("random_forest_classifier", {"max_depth": None})
    assert params["max_depth"] is None


def test_all_problems_are_reported_together():
    errors = errors_for(
        "logistic_regression",
        {"C": -1, "solver": "lbfgs", "penalty": "l1", "max_iter": "many", "colour": "red"},
    )
    assert set(errors) == {
        "hyperparameters.C",
        "hyperparameters.penalty",
        "hyperparameters.max_iter",
        "hyperparameters.colour",
    }


def test_l1_with_lbfgs_is_refused_and_the_message_says_what_works():
    errors = errors_for("logistic_regression", {"penalty": "l1", "solver": "lbfgs"})
    message = errors["hyperparameters.penalty"][0]
    assert "not supported by solver 'lbfgs'" in message
    assert "saga" in message and "liblinear" in message


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"penalty": "elasticnet", "solver": "saga"}, "l1_ratio"),
        ({"penalty": "elasticnet", "solver": "lbfgs", "l1_ratio": 0.5}, "penalty"),
        ({"penalty": "none", "solver": "liblinear"}, "penalty"),
        ({"penalty": "l2", "l1_ratio": 0.3}, "l1_ratio"),
    ],
)
def test_combinations_the_library_refuses_are_refused(params, field):
    assert f"hyperparameters.{field}" in errors_for("logistic_regression", params)


@pytest.mark.parametrize(
    "params",
    [
        {"penalty": "l1", "solver": "liblinear"},
        {"penalty": "l1", "solver": "saga"},
        {"penalty": "elasticnet", "solver": "saga", "l1_ratio": 0.5},
        {"penalty": "none", "solver": "newton-cg"},
    ],
)
def test_combinations_the_library_accepts_pass(params):
    assert validate_hyperparameters("logistic_regression", params)["penalty"] == params["penalty"]


def test_the_library_itself_is_the_safety_net_behind_the_rules(monkeypatch):
    # Without our explicit rule, the probe fit still catches l1 + lbfgs.
    monkeypatch.setattr(ALGORITHMS["logistic_regression"], "rules", None)
    errors = errors_for("logistic_regression", {"penalty": "l1", "solver": "lbfgs"})
    assert "lbfgs" in errors["hyperparameters"][0]


def test_user_facing_values_become_constructor_arguments():
    params = validate_hyperparameters("logistic_regression", {"penalty": "none"})
    kwargs = algorithm_params_to_estimator_kwargs("logistic_regression", params)
    assert kwargs["C"] == math.inf and kwargs["class_weight"] is None
    params = validate_hyperparameters("random_forest_regressor", {"max_features": "all"})
    assert algorithm_params_to_estimator_kwargs("random_forest_regressor", params)["max_features"] == 1.0


def test_catboost_is_quiet_seeded_single_threaded_and_writes_no_files():
    spec = get_algorithm("catboost_classifier")
    estimator = spec.build_estimator(
        validate_hyperparameters(spec.key, {}), random_state=7, categorical_indices=[2]
    )
    settings = estimator.get_params()
    assert settings["iterations"] == 1000  # CatBoost's own default
    assert settings.get("learning_rate") is None  # CatBoost picks it
    assert settings["thread_count"] == 1
    assert settings["verbose"] is False
    assert settings["allow_writing_files"] is False
    assert settings["random_seed"] == 7
    assert settings["cat_features"] == [2]


def test_svc_can_give_probabilities():
    spec = get_algorithm("svc")
    estimator = spec.build_estimator(validate_hyperparameters("svc", {}), smallest_class_count=3)
    assert hasattr(estimator, "predict_proba")
    assert estimator.get_params()["cv"] == 3


# --- rules that depend on the target --------------------------------------------------


def liblinear() -> dict:
    return validate_hyperparameters("logistic_regression", {"solver": "liblinear"})


def test_liblinear_is_refused_for_more_than_two_classes_naming_the_target():
    errors = check_for_target("logistic_regression", liblinear(), target="species", n_classes=3)
    assert errors == {
        "hyperparameters.solver": [
            "solver 'liblinear' handles only two classes; 'species' has 3. "
            "Choose another solver (saga also supports l1)."
        ]
    }


@pytest.mark.parametrize(
    ("key", "params", "n_classes"),
    [
        ("logistic_regression", {"solver": "liblinear"}, 2),
        ("logistic_regression", {"solver": "saga"}, 3),
        ("logistic_regression", {"solver": "lbfgs"}, 10),
        ("random_forest_classifier", {}, 5),
        ("ridge", {}, None),
    ],
)
def test_settings_that_suit_the_target_have_no_problems(key, params, n_classes):
    params = validate_hyperparameters(key, params)
    assert check_for_target(key, params, target="y", n_classes=n_classes) == {}


def test_a_solver_that_failed_its_own_check_is_not_judged_again():
    # validate_hyperparameters leaves out what it refused; the caller reports that.
    assert check_for_target("logistic_regression", {}, target="y", n_classes=3) == {}


def test_an_unknown_algorithm_is_refused_by_check_for_target():
    with pytest.raises(HyperparameterError) as caught:
        check_for_target("no_such_model", {}, target="y", n_classes=2)
    assert "algorithm" in caught.value.errors


# --- widened schema (issue 12) --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "params", "expected"),
    [
        ("random_forest_classifier", {"max_features": 0.5}, 0.5),
        ("random_forest_regressor", {"max_features": 1}, 1.0),
        ("random_forest_classifier", {"max_features": "log2"}, "log2"),
    ],
)
def test_max_features_takes_a_share_of_the_features(key, params, expected):
    cleaned = validate_hyperparameters(key, params)
    assert algorithm_params_to_estimator_kwargs(key, cleaned)["max_features"] == expected


@pytest.mark.parametrize("value", [0, 0.0, -0.2, 1.5, math.inf, "half", True])
def test_a_max_features_share_outside_zero_to_one_is_refused(value):
    errors = errors_for("random_forest_classifier", {"max_features": value})
    assert list(errors) == ["hyperparameters.max_features"]
    assert errors["hyperparameters.max_features"][0].startswith(
        "max_features must be one of: sqrt, log2, all, or a number greater than 0 and at most 1 (got "
    )


def test_svc_gamma_takes_a_positive_number_and_coef0_a_float():
    params = validate_hyperparameters("svc", {"gamma": 0.05, "coef0": -0.5, "kernel": "sigmoid"})
    kwargs = algorithm_params_to_estimator_kwargs("svc", params)
    assert kwargs["gamma"] == 0.05 and kwargs["coef0"] == -0.5
    assert validate_hyperparameters("svc", {})["coef0"] == 0.0
    for bad in (0, -1.0, "wide"):
        errors = errors_for("svc", {"gamma": bad})
        assert (
            "gamma must be one of: scale, auto, or a number greater than 0"
            in errors["hyperparameters.gamma"][0]
        )
    errors = errors_for("svc", {"coef0": "1"})
    assert errors == {"hyperparameters.coef0": ["coef0 must be a number, not the text '1'"]}


def test_a_choice_that_takes_numbers_says_so_to_forms_and_the_api():
    described = {p.name: p.as_dict() for p in get_algorithm("random_forest_classifier").hyperparameters}
    assert described["max_features"]["numbers"] == {"min": 0.0, "max": 1.0, "min_exclusive": True}
    assert described["n_estimators"]["numbers"] is None
    gamma = next(p for p in get_algorithm("svc").hyperparameters if p.name == "gamma")
    assert gamma.as_dict()["numbers"]["min_exclusive"] is True


def test_every_classifier_can_weigh_its_classes():
    for spec in ALGORITHMS.values():
        if spec.task == "classification":
            assert {"class_weight", "auto_class_weights"} & set(spec.parameter_names), spec.key


# Deliberate differences from the library's defaults, each with its reason in catalog.py.
DEFAULT_DEVIATIONS = {("logistic_regression", "max_iter")}


@pytest.mark.parametrize("key", sorted(EXPECTED_KEYS))
def test_defaults_are_the_librarys_own(key):
    spec = get_algorithm(key)
    kwargs = algorithm_params_to_estimator_kwargs(key, validate_hyperparameters(key, {}))
    estimator = spec.build_estimator(validate_hyperparameters(key, {}), smallest_class_count=10)
    if key == "svc":  # the SVC inside its calibration
        estimator = estimator.estimator
    library = type(estimator)()
    if key.startswith("catboost"):
        # l2_leaf_reg 3 is CatBoost's default and is left out, or CatBoost would not
        # choose the learning rate itself.
        assert kwargs == {
            "iterations": 1000,
            "depth": 6,
            "learning_rate": None,
            **({"auto_class_weights": None} if spec.task == "classification" else {}),
        }
        return
    library_defaults = library.get_params()
    for name, value in kwargs.items():
        if (key, name) in DEFAULT_DEVIATIONS or name not in library_defaults:
            continue
        assert value == library_defaults[name], (key, name)


def test_catboost_learning_rate_may_be_left_to_catboost_or_set():
    assert validate_hyperparameters("catboost_regressor", {"learning_rate": None})["learning_rate"] is None
    assert validate_hyperparameters("catboost_regressor", {"learning_rate": 0.03})["learning_rate"] == 0.03


def test_catboost_chooses_its_own_learning_rate_with_the_defaults():
    rows = np.random.RandomState(0).normal(size=(3000, 3))
    labels = (rows[:, 0] > 0).astype(int)

    def learning_rate(params):
        spec = get_algorithm("catboost_classifier")
        estimator = spec.build_estimator(validate_hyperparameters(spec.key, {"iterations": 2, **params}))
        return estimator.fit(rows, labels).learning_rate_

    assert learning_rate({}) != pytest.approx(0.03)  # chosen from the rows and iterations
    assert learning_rate({"l2_leaf_reg": 5.0}) == pytest.approx(0.03)  # CatBoost's fixed fallback

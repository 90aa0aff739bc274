from __future__ import annotations

import math

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
        ({"max_features": "half"}, "max_features", "one of: sqrt, log2, all"),
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
    assert settings["iterations"] == 200
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

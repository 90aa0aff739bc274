"""The search space is derived from the catalog: every HyperParameter of every
algorithm is one dimension of the right kind, its default is a point of it, and
what the search proposes passes the catalog's own validation."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from mlmodels.ml.catalog import ALGORITHMS, validate_hyperparameters
from mlmodels.ml.errors import HyperparameterError
from mlmodels.ml.space import (
    ALGORITHM_PARAMETER,
    BIG_TRAINING_ROWS,
    LOG_RATIO,
    NUMBER,
    SEARCH_BOUNDS,
    default_point,
    inside,
    search_space,
    suggest,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("key", sorted(ALGORITHMS))
def test_every_hyperparameter_is_one_dimension_of_its_kind(key):
    spec = ALGORITHMS[key]
    dimensions = search_space(spec)
    assert [dimension.parameter.name for dimension in dimensions] == spec.parameter_names
    for dimension in dimensions:
        parameter = dimension.parameter
        assert dimension.name == f"{key}.{parameter.name}"
        assert inside(dimension, parameter.default), (key, parameter.name)
        distribution = dimension.distribution
        if distribution is None:  # kept at its default, named in SEARCH_BOUNDS
            assert SEARCH_BOUNDS[f"{key}.{parameter.name}"] is None
            continue
        assert (dimension.null_name is not None) == parameter.nullable
        if parameter.type == "bool":
            assert distribution.choices == (False, True)
        elif parameter.type == "choice":
            assert isinstance(distribution, CategoricalDistribution)
            extra = (NUMBER,) if parameter.numbers is not None else ()
            assert distribution.choices == (*parameter.choices, *extra)
            assert (dimension.number_distribution is not None) == (parameter.numbers is not None)
        else:
            expected = IntDistribution if parameter.type == "int" else FloatDistribution
            assert isinstance(distribution, expected)
            # Never wider than what a user may set.
            assert parameter.min is None or distribution.low >= parameter.min
            assert parameter.max is None or distribution.high <= parameter.max
        numeric = dimension.number_distribution or distribution
        if isinstance(numeric, (IntDistribution, FloatDistribution)):
            wide = numeric.low > 0 and numeric.high / numeric.low >= LOG_RATIO
            assert numeric.log == wide, (key, parameter.name)


def test_the_wide_positive_ranges_are_searched_on_a_log_scale():
    logs = {
        (key, dimension.parameter.name)
        for key, spec in ALGORITHMS.items()
        for dimension in search_space(spec)
        if dimension.log
    }
    assert {("logistic_regression", "C"), ("svc", "C"), ("svc", "gamma"), ("ridge", "alpha")} <= logs
    assert {("lasso", "alpha"), ("catboost_classifier", "learning_rate")} <= logs
    assert ("gradient_boosting_regressor", "learning_rate") in logs
    assert ("random_forest_classifier", "n_estimators") not in logs


def test_tree_counts_are_capped_lower_on_big_tables():
    spec = ALGORITHMS["random_forest_classifier"]
    small = {d.parameter.name: d for d in search_space(spec, train_rows=1000)}
    big = {d.parameter.name: d for d in search_space(spec, train_rows=BIG_TRAINING_ROWS + 1)}
    assert big["n_estimators"].distribution.high < small["n_estimators"].distribution.high


@pytest.mark.parametrize("key", sorted(ALGORITHMS))
def test_the_default_point_gives_the_catalog_defaults(key):
    spec = ALGORITHMS[key]
    dimensions = search_space(spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(default_point(spec, dimensions))
    trial = study.ask()
    assert trial.suggest_categorical(ALGORITHM_PARAMETER, [key]) == key
    assert suggest(trial, dimensions) == spec.defaults()


@pytest.mark.parametrize("key", sorted(ALGORITHMS))
def test_what_the_search_proposes_is_valid_except_for_cross_parameter_rules(key):
    spec = ALGORITHMS[key]
    dimensions = search_space(spec)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    refused = 0
    for _ in range(25):
        trial = study.ask()
        values = suggest(trial, dimensions)
        try:
            validate_hyperparameters(key, values)
        except HyperparameterError as error:
            # Only logistic regression has rules across parameters.
            assert key == "logistic_regression", error.errors
            assert set(error.errors) <= {"hyperparameters.penalty", "hyperparameters.l1_ratio"}
            refused += 1
        study.tell(trial, 0.0)
    assert refused < 25

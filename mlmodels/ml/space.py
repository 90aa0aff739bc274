"""The search space, derived from the catalog's HyperParameter objects — never a second
list of parameters. Each parameter becomes one ``Dimension``:

- bool and choice → a categorical of its values;
- int and float → a range, on a log scale when ``min > 0`` and ``max / min >= 100``
  (C, alpha, learning rates, gamma);
- nullable → first a categorical "is it null?" (``<name>.null``), then the range;
- a choice that also takes numbers (``max_features``, ``gamma``) → its choices plus
  ``"number"``, then the number (``<name>.number``).

Optuna parameter names are ``<algorithm>.<parameter>`` so algorithms never share one.
``SEARCH_BOUNDS`` is the one place where the search narrows what a user may set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import Trial

from .catalog import AlgorithmSpec
from .parameters import HyperParameter

ALGORITHM_PARAMETER = "algorithm"
NUMBER = "number"  # the extra option of a choice that also takes numbers
LOG_RATIO = 100  # a range at least this wide (max / min) is searched on a log scale
BIG_TRAINING_ROWS = 20_000

# Search only: the catalog lets a user set values the search should not spend its
# budget on (10,000 trees, depth 100, C = 1e6). Keyed by "<algorithm>.<parameter>"
# or, for every algorithm, "<parameter>". None: not searched, stays at its default.
# Every default lies inside its range, so each algorithm's first (default) trial is
# a point of the space.
SEARCH_BOUNDS: dict[str, tuple[float, float] | None] = {
    "C": (1e-4, 1e4),
    "alpha": (1e-4, 1e3),
    "learning_rate": (0.005, 0.5),
    "gamma": (1e-4, 10.0),  # the numeric alternative to scale/auto
    "coef0": (-1.0, 1.0),
    "degree": (2, 5),
    "max_features": (0.1, 1.0),  # the numeric alternative to sqrt/log2/all
    # Trees: cost grows linearly, gains flatten long before the catalog's maximum.
    "n_estimators": (20, 500),
    "iterations": (100, 2000),  # CatBoost; early-stopped on big data
    "gradient_boosting_classifier.max_iter": (20, 500),
    "gradient_boosting_regressor.max_iter": (20, 500),
    "max_depth": (2, 30),
    "depth": (2, 8),  # CatBoost: 2**depth leaves per tree; depth 10 costs 16 times depth 6
    "min_samples_split": (2, 50),
    "min_samples_leaf": (1, 100),
    "l2_regularization": (0.0, 10.0),
    "l2_leaf_reg": (0.5, 50.0),
    # An iteration cap, not a model setting: more only helps a fit that did not converge.
    "logistic_regression.max_iter": None,
    "lasso.max_iter": None,
}
# On big tables each tree costs more; the forest's budget-aware cap.
BIG_DATA_BOUNDS: dict[str, tuple[float, float]] = {"n_estimators": (20, 300)}


@dataclass(frozen=True)
class Dimension:
    parameter: HyperParameter
    name: str  # the optuna parameter name
    # None: not searched (the parameter keeps its default).
    distribution: BaseDistribution | None
    null_name: str | None = None  # nullable: categorical [False, True]
    number_name: str | None = None  # choice with numbers: the number's distribution
    number_distribution: FloatDistribution | None = None

    @property
    def log(self) -> bool:
        target = self.number_distribution or self.distribution
        return bool(getattr(target, "log", False))


def _bounds(spec: AlgorithmSpec, parameter: HyperParameter, train_rows: int | None) -> Any:
    key = f"{spec.key}.{parameter.name}"
    if train_rows is not None and train_rows > BIG_TRAINING_ROWS and parameter.name in BIG_DATA_BOUNDS:
        return BIG_DATA_BOUNDS[parameter.name]
    if key in SEARCH_BOUNDS:
        return SEARCH_BOUNDS[key]
    if parameter.name in SEARCH_BOUNDS:
        return SEARCH_BOUNDS[parameter.name]
    if parameter.numbers is not None:
        return (parameter.numbers.min, parameter.numbers.max)
    return (parameter.min, parameter.max)


def _is_log(low: float, high: float) -> bool:
    return low > 0 and high / low >= LOG_RATIO


def _numeric(kind: str, low: float, high: float) -> BaseDistribution:
    log = _is_log(low, high)
    if kind == "int":
        return IntDistribution(int(low), int(high), log=log)
    return FloatDistribution(float(low), float(high), log=log)


def search_space(spec: AlgorithmSpec, *, train_rows: int | None = None) -> list[Dimension]:
    """One Dimension per catalog HyperParameter of ``spec``, in catalog order."""
    dimensions = []
    for parameter in spec.hyperparameters:
        name = f"{spec.key}.{parameter.name}"
        bounds = _bounds(spec, parameter, train_rows)
        if bounds is None:
            dimensions.append(Dimension(parameter, name, None))
        elif parameter.type == "bool":
            dimensions.append(Dimension(parameter, name, CategoricalDistribution([False, True])))
        elif parameter.type == "choice":
            assert parameter.choices is not None
            if parameter.numbers is None:
                dimensions.append(Dimension(parameter, name, CategoricalDistribution(parameter.choices)))
            else:
                low, high = bounds
                dimensions.append(
                    Dimension(
                        parameter,
                        name,
                        CategoricalDistribution([*parameter.choices, NUMBER]),
                        number_name=f"{name}.{NUMBER}",
                        number_distribution=FloatDistribution(low, high, log=_is_log(low, high)),
                    )
                )
        else:
            low, high = bounds
            null_name = f"{name}.null" if parameter.nullable else None
            dimensions.append(Dimension(parameter, name, _numeric(parameter.type, low, high), null_name))
    return dimensions


def suggest(trial: Trial, dimensions: list[Dimension]) -> dict[str, Any]:
    """User-facing values for one trial (to be checked by validate_hyperparameters)."""
    values: dict[str, Any] = {}
    for dimension in dimensions:
        parameter = dimension.parameter
        if dimension.distribution is None:
            values[parameter.name] = parameter.default
            continue
        if dimension.null_name is not None and trial.suggest_categorical(dimension.null_name, [False, True]):
            values[parameter.name] = None
            continue
        value = _suggest(trial, dimension.name, dimension.distribution)
        if value == NUMBER and dimension.number_name is not None:
            assert dimension.number_distribution is not None
            value = _suggest(trial, dimension.number_name, dimension.number_distribution)
        values[parameter.name] = value
    return values


def _suggest(trial: Trial, name: str, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, list(distribution.choices))
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, log=distribution.log)
    assert isinstance(distribution, FloatDistribution)
    return trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)


def default_point(spec: AlgorithmSpec, dimensions: list[Dimension]) -> dict[str, Any]:
    """The optuna parameters that make ``suggest`` give the algorithm's defaults (for
    ``study.enqueue_trial``)."""
    point: dict[str, Any] = {ALGORITHM_PARAMETER: spec.key}
    for dimension in dimensions:
        default = dimension.parameter.default
        if dimension.distribution is None:
            continue
        if dimension.null_name is not None:
            point[dimension.null_name] = default is None
            if default is None:
                continue
        if dimension.number_name is not None and not isinstance(default, str):
            point[dimension.name] = NUMBER
            point[dimension.number_name] = default
        else:
            point[dimension.name] = default
    return point


def inside(dimension: Dimension, value: Any) -> bool:
    """Whether a user-facing ``value`` is a point of ``dimension`` (for tests)."""
    if value is None:
        return dimension.null_name is not None
    if dimension.distribution is None:
        return value == dimension.parameter.default
    if isinstance(value, (str, bool)):
        assert isinstance(dimension.distribution, CategoricalDistribution)
        return value in dimension.distribution.choices
    distribution = dimension.number_distribution or dimension.distribution
    assert isinstance(distribution, (IntDistribution, FloatDistribution))
    return distribution.low <= value <= distribution.high and math.isfinite(value)

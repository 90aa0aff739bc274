"""The algorithm catalog: which estimators the service offers, the hyperparameters a
user may set for each (type, range, choices, default), and how those user-facing
values become constructor arguments.

User-facing names and values are kept stable even where the library's differ (for
example ``penalty="none"`` for logistic regression becomes ``C=inf`` because
scikit-learn 1.8 deprecated ``penalty``). The translation lives here, next to the
schema, so an upgrade of a library changes one file.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from catboost import CatBoostClassifier, CatBoostRegressor
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.svm import SVC

from .errors import HyperparameterError
from .parameter_sets import (
    C_PARAMETER,
    CATBOOST_DEFAULT_L2_LEAF_REG,
    FIT_INTERCEPT_PARAMETER,
    boosting_parameters,
    catboost_parameters,
    class_weight_parameter,
    forest_parameters,
)
from .parameters import PARAMETER_TYPES, HyperParameter, NumberRange, _describe

__all__ = [
    "ALGORITHMS",
    "PARAMETER_TYPES",
    "TRAINING_THREADS",
    "AlgorithmSpec",
    "HyperParameter",
    "NumberRange",
    "TargetFacts",
    "algorithm_params_to_estimator_kwargs",
    "check_for_target",
    "get_algorithm",
    "validate_hyperparameters",
]

# Threads one training job may use. Several workers share a machine, so each fit stays
# on one thread and the service scales by running more workers. CatBoost gets it as
# thread_count; training.py applies it to OpenMP/BLAS (HistGradientBoosting, NumPy).
TRAINING_THREADS = 1

# SVC's own probability=True (libsvm Platt scaling) is deprecated since
# scikit-learn 1.9; CalibratedClassifierCV(ensemble=False) is the documented
# replacement and does the same 5-fold sigmoid calibration.
SVC_CALIBRATION_FOLDS = 5


@dataclass(frozen=True)
class TargetFacts:
    """What the target-dependent rules may look at; a rule that needs more (rows, the
    rarest class's count) gets a field here and its caller passes it."""

    name: str
    n_classes: int | None  # None for regression


@dataclass
class AlgorithmSpec:
    key: str
    name: str
    task: str
    hyperparameters: list[HyperParameter]
    description: str
    # True: the estimator takes raw categorical strings (CatBoost) instead of one-hot.
    native_categorical: bool
    # Turns validated user-facing params into estimator constructor kwargs.
    to_kwargs: Callable[[dict[str, Any]], dict[str, Any]] = field(repr=False, default=dict)
    # Cross-parameter rules the library would refuse at fit time: {name: [messages]}.
    rules: Callable[[dict[str, Any]], dict[str, list[str]]] | None = field(repr=False, default=None)
    # Rules on the parameters together with the target they are to fit (e.g. a solver
    # that handles only two classes): {name: [messages]}; see ``check_for_target``.
    target_rules: Callable[[dict[str, Any], TargetFacts], dict[str, list[str]]] | None = field(
        repr=False, default=None
    )
    # Builds the estimator from constructor kwargs plus the seed and fit context.
    make: Callable[..., BaseEstimator] | None = field(repr=False, default=None)
    # Relative cost of one fit, for ordering a search cheapest first (0 linear,
    # 1 forests and histogram boosting, 2 CatBoost, 3 SVC: quadratic in rows).
    search_cost: int = 1

    @property
    def parameter_names(self) -> list[str]:
        return [parameter.name for parameter in self.hyperparameters]

    def defaults(self) -> dict[str, Any]:
        return {parameter.name: parameter.default for parameter in self.hyperparameters}

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "task": self.task,
            "description": self.description,
            "native_categorical": self.native_categorical,
            "hyperparameters": [parameter.as_dict() for parameter in self.hyperparameters],
        }

    def build_estimator(
        self,
        params: dict[str, Any],
        *,
        random_state: int = 0,
        categorical_indices: list[int] | None = None,
        smallest_class_count: int | None = None,
    ) -> BaseEstimator:
        """Build the estimator from params already returned by validate_hyperparameters.

        ``categorical_indices``: positions of the categorical columns in the
        preprocessed frame (CatBoost only). ``smallest_class_count``: rows of the
        rarest class in the training part (bounds the SVC calibration folds).
        """
        if self.make is None:
            raise NotImplementedError(f"algorithm {self.key!r} has no estimator builder")
        kwargs = self.to_kwargs(params)
        return self.make(
            kwargs,
            random_state=random_state,
            categorical_indices=list(categorical_indices or []),
            smallest_class_count=smallest_class_count,
        )


# --- builders -------------------------------------------------------------------------


def _plain(estimator_class: type, seed_argument: str | None = None) -> Callable[..., Any]:
    def make(kwargs: dict[str, Any], *, random_state: int, **_: Any) -> BaseEstimator:
        if seed_argument:
            kwargs = {**kwargs, seed_argument: random_state}
        return estimator_class(**kwargs)

    return make


def _make_svc(
    kwargs: dict[str, Any], *, random_state: int, smallest_class_count: int | None, **_: Any
) -> BaseEstimator:
    folds = SVC_CALIBRATION_FOLDS
    if smallest_class_count is not None:
        # Each calibration fold needs every class; fewer folds for tiny classes.
        folds = max(2, min(folds, smallest_class_count))
    return CalibratedClassifierCV(
        SVC(**kwargs, random_state=random_state),
        method="sigmoid",
        cv=folds,
        ensemble=False,
    )


def _make_catboost(estimator_class: type) -> Callable[..., Any]:
    def make(
        kwargs: dict[str, Any], *, random_state: int, categorical_indices: list[int], **_: Any
    ) -> BaseEstimator:
        return estimator_class(
            **kwargs,
            random_seed=random_state,
            thread_count=TRAINING_THREADS,
            verbose=False,
            # CatBoost writes catboost_info/ into the working directory by default.
            allow_writing_files=False,
            cat_features=categorical_indices or None,
        )

    return make


# --- user-facing value -> constructor value -------------------------------------------


def _class_weight(value: str) -> str | None:
    return None if value == "none" else value


def _max_features(value: str | float) -> str | float:
    # A number is the share of the features, which scikit-learn takes as is.
    return 1.0 if value == "all" else value


def _logistic_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    # scikit-learn 1.8 deprecated ``penalty``: the penalty is now told by l1_ratio
    # (0 = L2, 1 = L1, in between = elastic net) and C=inf means no penalty.
    penalty = params["penalty"]
    l1_ratio = {"l2": 0.0, "l1": 1.0, "none": 0.0}.get(penalty, params["l1_ratio"])
    return {
        "C": math.inf if penalty == "none" else params["C"],
        "l1_ratio": l1_ratio,
        "solver": params["solver"],
        "max_iter": params["max_iter"],
        "class_weight": _class_weight(params["class_weight"]),
    }


LOGISTIC_SOLVER_PENALTIES = {
    "lbfgs": ("l2", "none"),
    "newton-cg": ("l2", "none"),
    "newton-cholesky": ("l2", "none"),
    "sag": ("l2", "none"),
    "saga": ("l2", "l1", "elasticnet", "none"),
    "liblinear": ("l2", "l1"),
}


def _logistic_rules(params: dict[str, Any]) -> dict[str, list[str]]:
    # ``params`` holds only the values that passed their own checks, so a rule runs
    # when its inputs are readable and the user still gets every problem at once.
    errors: dict[str, list[str]] = {}
    penalty, solver = params.get("penalty"), params.get("solver")
    if penalty is not None and solver is not None:
        allowed = LOGISTIC_SOLVER_PENALTIES[solver]
        if penalty not in allowed:
            supporting = [name for name, options in LOGISTIC_SOLVER_PENALTIES.items() if penalty in options]
            errors["hyperparameters.penalty"] = [
                (
                    f"penalty '{penalty}' is not supported by solver '{solver}' "
                    f"(solver '{solver}' supports: {', '.join(allowed)}; "
                    f"penalty '{penalty}' works with: {', '.join(supporting)})"
                )
            ]
    if penalty is not None and "l1_ratio" in params:
        if penalty == "elasticnet" and params["l1_ratio"] is None:
            errors["hyperparameters.l1_ratio"] = [
                "l1_ratio is required with penalty 'elasticnet' (a number from 0 to 1)"
            ]
        if penalty != "elasticnet" and params["l1_ratio"] is not None:
            errors["hyperparameters.l1_ratio"] = [
                (f"l1_ratio is only used with penalty 'elasticnet' (penalty is '{penalty}'); leave it empty")
            ]
    return errors


def _logistic_target_rules(params: dict[str, Any], target: TargetFacts) -> dict[str, list[str]]:
    # liblinear fits one-vs-rest only for two classes; scikit-learn refuses more at fit.
    if params.get("solver") == "liblinear" and target.n_classes is not None and target.n_classes > 2:
        return {
            "hyperparameters.solver": [
                f"solver 'liblinear' handles only two classes; '{target.name}' has "
                f"{target.n_classes}. Choose another solver (saga also supports l1)."
            ]
        }
    return {}


def _forest_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(params)
    kwargs["max_features"] = _max_features(params["max_features"])
    if "class_weight" in kwargs:
        kwargs["class_weight"] = _class_weight(params["class_weight"])
    return kwargs


def _boosting_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(params)
    if "class_weight" in kwargs:
        kwargs["class_weight"] = _class_weight(params["class_weight"])
    return kwargs


def _svc_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(params)
    kwargs["class_weight"] = _class_weight(params["class_weight"])
    return kwargs


def _catboost_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(params)
    # Left out at its default so CatBoost still chooses the learning rate (see
    # parameter_sets.CATBOOST_DEFAULT_L2_LEAF_REG).
    if kwargs.get("l2_leaf_reg") == CATBOOST_DEFAULT_L2_LEAF_REG:
        del kwargs["l2_leaf_reg"]
    if "auto_class_weights" in kwargs:
        value = kwargs["auto_class_weights"]
        kwargs["auto_class_weights"] = None if value == "none" else value
    return kwargs


ALGORITHMS: dict[str, AlgorithmSpec] = {
    spec.key: spec
    for spec in [
        AlgorithmSpec(
            key="logistic_regression",
            name="Logistic regression",
            task="classification",
            description="A linear model of class probabilities; fast and easy to interpret.",
            native_categorical=False,
            hyperparameters=[
                C_PARAMETER,
                HyperParameter(
                    "penalty",
                    "choice",
                    "l2",
                    choices=["l2", "l1", "elasticnet", "none"],
                    help="Regularisation: l2, l1 (sparse), elasticnet (both) or none.",
                ),
                HyperParameter(
                    "solver",
                    "choice",
                    "lbfgs",
                    choices=list(LOGISTIC_SOLVER_PENALTIES),
                    help="Optimiser. l1 needs liblinear or saga; elasticnet needs saga.",
                ),
                HyperParameter(
                    "l1_ratio",
                    "float",
                    None,
                    0.0,
                    1.0,
                    nullable=True,
                    help="Elastic-net mix (0 = l2, 1 = l1); only with penalty 'elasticnet'.",
                ),
                # scikit-learn's default is 100. Kept at 1000 on purpose: it is a cap,
                # so a fit that converges by 100 is the same model, and fewer fits end
                # unconverged (with a warning) on unscaled or hard data.
                HyperParameter("max_iter", "int", 1000, 1, 100000, help="Maximum iterations."),
                class_weight_parameter(),
            ],
            to_kwargs=_logistic_kwargs,
            rules=_logistic_rules,
            target_rules=_logistic_target_rules,
            make=_plain(LogisticRegression, "random_state"),
            search_cost=0,
        ),
        AlgorithmSpec(
            key="svc",
            name="Support vector machine",
            task="classification",
            description=(
                "A maximum-margin classifier with kernels for curved boundaries; "
                "probabilities come from sigmoid calibration. Slow beyond ~20,000 rows."
            ),
            native_categorical=False,
            hyperparameters=[
                C_PARAMETER,
                HyperParameter(
                    "kernel",
                    "choice",
                    "rbf",
                    choices=["rbf", "linear", "poly", "sigmoid"],
                    help="Shape of the decision boundary.",
                ),
                HyperParameter(
                    "gamma",
                    "choice",
                    "scale",
                    choices=["scale", "auto"],
                    numbers=NumberRange(0.0, 1e6, min_exclusive=True),
                    help=(
                        "Kernel coefficient: 'scale' uses the data's variance, 'auto' "
                        "1/features, or a positive number (larger means a tighter fit)."
                    ),
                ),
                HyperParameter("degree", "int", 3, 1, 10, help="Degree of the 'poly' kernel."),
                HyperParameter(
                    "coef0",
                    "float",
                    0.0,
                    -1e6,
                    1e6,
                    help="Constant term of the 'poly' and 'sigmoid' kernels.",
                ),
                class_weight_parameter(),
            ],
            to_kwargs=_svc_kwargs,
            make=_make_svc,
            search_cost=3,
        ),
        AlgorithmSpec(
            key="random_forest_classifier",
            name="Random forest",
            task="classification",
            description="Many decision trees voting; robust with little tuning.",
            native_categorical=False,
            hyperparameters=forest_parameters(classifier=True),
            to_kwargs=_forest_kwargs,
            make=_plain(RandomForestClassifier, "random_state"),
        ),
        AlgorithmSpec(
            key="gradient_boosting_classifier",
            name="Gradient boosting",
            task="classification",
            # HistGradientBoosting rather than GradientBoosting: orders of magnitude
            # faster on more than a few thousand rows, with the same knobs that matter.
            description="Histogram-based gradient-boosted trees (scikit-learn); fast and strong.",
            native_categorical=False,
            hyperparameters=boosting_parameters(classifier=True),
            to_kwargs=_boosting_kwargs,
            make=_plain(HistGradientBoostingClassifier, "random_state"),
        ),
        AlgorithmSpec(
            key="catboost_classifier",
            name="CatBoost",
            task="classification",
            description="Gradient-boosted trees with native handling of categorical columns.",
            native_categorical=True,
            hyperparameters=catboost_parameters(classifier=True),
            to_kwargs=_catboost_kwargs,
            make=_make_catboost(CatBoostClassifier),
            search_cost=2,
        ),
        AlgorithmSpec(
            key="linear_regression",
            name="Linear regression",
            task="regression",
            description="Ordinary least squares; the simplest baseline.",
            native_categorical=False,
            hyperparameters=[FIT_INTERCEPT_PARAMETER],
            to_kwargs=dict,
            make=_plain(LinearRegression),
            search_cost=0,
        ),
        AlgorithmSpec(
            key="ridge",
            name="Ridge regression",
            task="regression",
            description="Least squares with an L2 penalty; stable with correlated features.",
            native_categorical=False,
            hyperparameters=[
                HyperParameter("alpha", "float", 1.0, 0.0, 1e6, help="Penalty strength."),
                FIT_INTERCEPT_PARAMETER,
            ],
            to_kwargs=dict,
            make=_plain(Ridge),
            search_cost=0,
        ),
        AlgorithmSpec(
            key="lasso",
            name="Lasso regression",
            task="regression",
            description="Least squares with an L1 penalty; sets unhelpful features to zero.",
            native_categorical=False,
            hyperparameters=[
                # alpha=0 is plain least squares, which Lasso's solver handles badly.
                HyperParameter("alpha", "float", 1.0, 1e-6, 1e6, help="Penalty strength."),
                FIT_INTERCEPT_PARAMETER,
                HyperParameter("max_iter", "int", 1000, 1, 100000, help="Maximum iterations."),
            ],
            to_kwargs=dict,
            make=_plain(Lasso),
            search_cost=0,
        ),
        AlgorithmSpec(
            key="random_forest_regressor",
            name="Random forest",
            task="regression",
            description="Many decision trees averaged; robust with little tuning.",
            native_categorical=False,
            hyperparameters=forest_parameters(classifier=False),
            to_kwargs=_forest_kwargs,
            make=_plain(RandomForestRegressor, "random_state"),
        ),
        AlgorithmSpec(
            key="gradient_boosting_regressor",
            name="Gradient boosting",
            task="regression",
            description="Histogram-based gradient-boosted trees (scikit-learn); fast and strong.",
            native_categorical=False,
            hyperparameters=boosting_parameters(classifier=False),
            to_kwargs=_boosting_kwargs,
            make=_plain(HistGradientBoostingRegressor, "random_state"),
        ),
        AlgorithmSpec(
            key="catboost_regressor",
            name="CatBoost",
            task="regression",
            description="Gradient-boosted trees with native handling of categorical columns.",
            native_categorical=True,
            hyperparameters=catboost_parameters(classifier=False),
            to_kwargs=_catboost_kwargs,
            make=_make_catboost(CatBoostRegressor),
            search_cost=2,
        ),
    ]
}


def get_algorithm(key: str) -> AlgorithmSpec:
    try:
        return ALGORITHMS[key]
    except (KeyError, TypeError):
        message = f"unknown algorithm {key!r}; choose one of: {', '.join(ALGORITHMS)}"
        raise HyperparameterError(f"Unknown algorithm {key!r}.", {"algorithm": [message]}) from None


def algorithm_params_to_estimator_kwargs(key: str, params: dict[str, Any]) -> dict[str, Any]:
    """Constructor kwargs for validated user-facing params (without seeds and the
    fixed settings such as CatBoost's thread count)."""
    return get_algorithm(key).to_kwargs(params)


def validate_hyperparameters(key: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Return the full parameter dict (defaults filled in) or raise HyperparameterError
    listing every problem under ``hyperparameters.<name>``."""
    spec = get_algorithm(key)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise HyperparameterError(
            "Hyperparameters must be an object.",
            {"hyperparameters": [f"must be an object of name: value, not {_describe(params)}"]},
        )
    errors: dict[str, list[str]] = {}
    allowed = spec.parameter_names
    for name in params:
        if name not in allowed:
            listed = ", ".join(allowed)
            errors[f"hyperparameters.{name}"] = [f"unknown parameter for {spec.name}; allowed: {listed}"]
    cleaned: dict[str, Any] = {}
    for parameter in spec.hyperparameters:
        value, message = parameter.clean(params.get(parameter.name, parameter.default))
        if message:
            errors[f"hyperparameters.{parameter.name}"] = [f"{parameter.name} {message}"]
        else:
            cleaned[parameter.name] = value
    if spec.rules is not None:
        for name, messages in spec.rules(cleaned).items():
            errors.setdefault(name, []).extend(messages)
    if not errors:
        errors.update(_library_check(spec, cleaned))
    if errors:
        count = sum(len(messages) for messages in errors.values())
        raise HyperparameterError(
            f"{count} hyperparameter problem{'s' if count != 1 else ''} for {spec.name}.",
            errors,
        )
    return cleaned


def check_for_target(
    key: str, hyperparameters: dict[str, Any], *, target: str, n_classes: int | None
) -> dict[str, list[str]]:
    """Problems of validated ``hyperparameters`` (as returned by
    ``validate_hyperparameters``) with this target, as {field: [messages]}, empty when
    there are none. ``n_classes`` is None for a regression target. A parameter missing
    from ``hyperparameters`` (it failed its own check) is skipped, so the caller can
    report every problem at once. Raises HyperparameterError for an unknown ``key``."""
    spec = get_algorithm(key)
    if spec.target_rules is None:
        return {}
    return spec.target_rules(hyperparameters, TargetFacts(name=target, n_classes=n_classes))


# A tiny, fixed, well-conditioned binary problem for the safety-net fit.
_PROBE_X = np.random.RandomState(0).normal(size=(20, 3))
_PROBE_Y = np.array([0, 1] * 10)


def _library_check(spec: AlgorithmSpec, params: dict[str, Any]) -> dict[str, list[str]]:
    """Safety net behind the explicit rules: let the library judge the parameters, so
    a combination we did not write a rule for still gives a 400, not a failed job."""
    try:
        estimator = spec.build_estimator(params, smallest_class_count=10)
        inner = getattr(estimator, "estimator", None)
        for candidate in (estimator, inner):
            validate = getattr(candidate, "_validate_params", None)
            if callable(validate):
                validate()
        if spec.key == "logistic_regression":
            # Penalty/solver compatibility is only checked inside fit(); the fit on
            # 20 rows takes milliseconds.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                estimator.fit(_PROBE_X, _PROBE_Y)
    except (ValueError, TypeError) as error:
        # InvalidParameterError subclasses ValueError and TypeError.
        return {"hyperparameters": [f"{spec.name} refused these settings: {error}"]}
    return {}

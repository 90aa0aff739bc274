"""Hyperparameter definitions several algorithms share (forests, boosted trees,
CatBoost, the regularisation strength C, class weights). The algorithms that use them
are in catalog.py."""

from __future__ import annotations

from .parameters import HyperParameter, NumberRange

# CatBoost's own l2_leaf_reg. CatBoost picks the learning rate itself only when
# l2_leaf_reg is not passed at all (passing even its default 3 gives a fixed 0.03), so
# the default value is left out and the library's defaults stay the library's.
CATBOOST_DEFAULT_L2_LEAF_REG = 3.0


def class_weight_parameter(extra: tuple[str, ...] = ()) -> HyperParameter:
    return HyperParameter(
        "class_weight",
        "choice",
        "none",
        choices=["none", "balanced", *extra],
        help="'balanced' weighs classes inversely to their frequency (helps rare classes).",
    )


def forest_parameters(classifier: bool) -> list[HyperParameter]:
    parameters = [
        HyperParameter("n_estimators", "int", 100, 1, 2000, help="Number of trees."),
        HyperParameter(
            "max_depth",
            "int",
            None,
            1,
            100,
            nullable=True,
            help="Maximum depth of a tree; empty means no limit.",
        ),
        HyperParameter(
            "min_samples_split",
            "int",
            2,
            2,
            1000,
            help="Rows a node needs before it may be split.",
        ),
        HyperParameter("min_samples_leaf", "int", 1, 1, 1000, help="Rows each leaf must keep."),
        HyperParameter(
            "max_features",
            "choice",
            "sqrt" if classifier else "all",
            choices=["sqrt", "log2", "all"],
            numbers=NumberRange(0.0, 1.0, min_exclusive=True),
            help=(
                "Features considered at each split: sqrt or log2 of the count, all, "
                "or a share of them (a number above 0 and at most 1)."
            ),
        ),
    ]
    if classifier:
        parameters.append(class_weight_parameter(("balanced_subsample",)))
    return parameters


def boosting_parameters(classifier: bool) -> list[HyperParameter]:
    parameters = [
        HyperParameter(
            "learning_rate",
            "float",
            0.1,
            0.0001,
            1.0,
            help="Shrinks each tree's contribution; smaller needs more iterations.",
        ),
        HyperParameter("max_iter", "int", 100, 1, 2000, help="Number of boosting iterations."),
        HyperParameter(
            "max_depth",
            "int",
            None,
            1,
            100,
            nullable=True,
            help="Maximum depth of a tree; empty means no limit (leaves are capped at 31).",
        ),
        HyperParameter("min_samples_leaf", "int", 20, 1, 1000, help="Rows each leaf must keep."),
        HyperParameter("l2_regularization", "float", 0.0, 0.0, 1000.0, help="L2 penalty on leaf values."),
    ]
    if classifier:
        parameters.append(class_weight_parameter())
    return parameters


def catboost_parameters(classifier: bool) -> list[HyperParameter]:
    parameters = [
        # CatBoost's own defaults: 1000 trees, and a learning rate it picks from the
        # number of rows and iterations when none is given.
        HyperParameter("iterations", "int", 1000, 1, 5000, help="Number of trees."),
        HyperParameter("depth", "int", 6, 1, 16, help="Depth of each (symmetric) tree."),
        HyperParameter(
            "learning_rate",
            "float",
            None,
            0.0001,
            1.0,
            nullable=True,
            help="Step size; empty lets CatBoost choose it from the rows and iterations.",
        ),
        HyperParameter(
            "l2_leaf_reg",
            "float",
            CATBOOST_DEFAULT_L2_LEAF_REG,
            0.0,
            1000.0,
            help="L2 penalty on leaves. Another value than 3 fixes the automatic learning rate at 0.03.",
        ),
    ]
    if classifier:
        parameters.append(
            HyperParameter(
                "auto_class_weights",
                "choice",
                "none",
                choices=["none", "Balanced", "SqrtBalanced"],
                help="Weigh classes by their frequency (helps rare classes).",
            )
        )
    return parameters


C_PARAMETER = HyperParameter(
    "C",
    "float",
    1.0,
    1e-6,
    1e6,
    help="Inverse regularisation strength: smaller means a simpler model.",
)
FIT_INTERCEPT_PARAMETER = HyperParameter(
    "fit_intercept", "bool", True, help="Learn a constant term (turn off if data is centred)."
)

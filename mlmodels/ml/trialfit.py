"""Fitting and scoring one search trial on one fold: the same pipeline train_model
builds, with early stopping for the boosted trees on big folds and a deadline that
CatBoost obeys mid-fit (the other estimators are stopped between folds)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .catalog import AlgorithmSpec
from .crossval import fold_scores, predict_fold
from .pipelines import build_pipeline
from .schema import Feature

# Early stopping needs a validation part big enough to be believed: below this many
# fit rows the boosted trees run their full length.
EARLY_STOPPING_MIN_ROWS = 2000
EARLY_STOPPING_VALIDATION_SHARE = 0.1
CATBOOST_EARLY_STOPPING_ROUNDS = 50
# Early stopping that kept at least this share of the iterations changes nothing.
KEEP_AS_ASKED_SHARE = 0.95
# libsvm cannot be stopped partway and some settings (large C, a steep kernel) need
# millions of iterations: a search fit stops after this many, so one setting cannot
# overrun the time budget by minutes (seen on titanic: one fit ran over 20 minutes).
SVC_SEARCH_MAX_ITER = 200_000


class OutOfTime(Exception):
    """The fold's deadline passed (CatBoost stops itself mid-fit, see _Deadline)."""


class _Deadline:
    """A CatBoost callback: stop adding trees once the trial's time is up."""

    def __init__(self, deadline: float | None):
        self.deadline = deadline
        self.hit = False

    def after_iteration(self, info: Any) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.hit = True
            return False
        return True


@dataclass
class FoldOutcome:
    scores: dict[str, float | None]
    fit_seconds: float
    # Early stopping's choice, as user-facing hyperparameters (e.g. the iterations
    # CatBoost kept): the winner is later trained without early stopping.
    realised: dict[str, Any] = field(default_factory=dict)


def fit_fold(
    spec: AlgorithmSpec,
    params: dict[str, Any],
    features: list[Feature],
    x_fit: pd.DataFrame,
    y_fit: np.ndarray,
    x_score: pd.DataFrame,
    y_score: np.ndarray,
    *,
    classes: list[Any] | None,
    random_state: int,
    deadline: float | None,
) -> FoldOutcome:
    started = time.perf_counter()
    pipeline = build_pipeline(spec, params, features, random_state=random_state, labels=y_fit)
    if spec.key == "svc":
        pipeline.set_params(model__estimator__max_iter=SVC_SEARCH_MAX_ITER)
    early = len(y_fit) >= EARLY_STOPPING_MIN_ROWS
    realised: dict[str, Any] = {}
    is_catboost = spec.key.startswith("catboost")
    if is_catboost:
        stopper = _Deadline(deadline)
        if early:
            _fit_catboost_early(pipeline, x_fit, y_fit, spec.task, random_state, stopper)
            model = pipeline.named_steps["model"]
            realised = {"iterations": int(model.tree_count_)}
            if params.get("learning_rate") is None:
                # Fewer iterations would change CatBoost's automatic rate: keep the one used.
                realised["learning_rate"] = float(f"{model.learning_rate_:.6g}")
        else:
            pipeline.fit(x_fit, y_fit, model__callbacks=[stopper])
        if stopper.hit:
            raise OutOfTime
    else:
        if early and spec.key.startswith("gradient_boosting"):
            # HistGradientBoosting holds out its own validation_fraction (10%).
            pipeline.set_params(model__early_stopping=True)
        pipeline.fit(x_fit, y_fit)
        if early and spec.key.startswith("gradient_boosting"):
            realised = {"max_iter": int(pipeline.named_steps["model"].n_iter_)}
    fit_seconds = time.perf_counter() - started
    predicted, probabilities = predict_fold(pipeline, x_score, spec.task)
    scores = fold_scores(spec.task, y_score, predicted, probabilities, classes)
    return FoldOutcome(scores=scores, fit_seconds=fit_seconds, realised=realised)


def _fit_catboost_early(
    pipeline: Any,
    x_fit: pd.DataFrame,
    y_fit: np.ndarray,
    task: str,
    random_state: int,
    stopper: _Deadline,
) -> None:
    """Preprocessing fitted on the inner training part only, CatBoost stopped when the
    inner validation part stops improving (and shrunk back to its best iteration)."""
    x_inner, x_valid, y_inner, y_valid = train_test_split(
        x_fit,
        y_fit,
        test_size=EARLY_STOPPING_VALIDATION_SHARE,
        random_state=random_state,
        stratify=y_fit if task == "classification" else None,
    )
    preprocess = pipeline.named_steps["preprocess"]
    model = pipeline.named_steps["model"]
    inner = preprocess.fit_transform(x_inner, y_inner)
    if model.get_params().get("learning_rate") is None:
        # With an eval_set CatBoost picks a larger automatic learning rate than
        # without one (0.065 instead of 0.036 on 19,000 rows of adult.csv), so early
        # stopping would judge another model than the one trained later. Ask CatBoost
        # for the rate it picks without an eval_set (one iteration) and use it.
        probe = model.copy()
        probe.fit(inner, y_inner, callbacks=[_Deadline(0.0)])
        model.set_params(learning_rate=float(probe.learning_rate_))
    model.fit(
        inner,
        y_inner,
        eval_set=(preprocess.transform(x_valid), y_valid),
        early_stopping_rounds=CATBOOST_EARLY_STOPPING_ROUNDS,
        callbacks=[stopper],
    )


def merge_realised(outcomes: list[FoldOutcome], params: dict[str, Any]) -> dict[str, Any]:
    """The folds' early-stopping choices combined (the mean, rounded for counts), or
    nothing when early stopping kept (nearly) every iteration: then the settings as
    asked are what was measured, and CatBoost's own rate for them stays automatic."""
    iterations = [o.realised["iterations"] for o in outcomes if "iterations" in o.realised]
    if iterations and np.mean(iterations) >= KEEP_AS_ASKED_SHARE * params["iterations"]:
        return {}
    merged: dict[str, Any] = {}
    for name in outcomes[0].realised if outcomes else []:
        values = [outcome.realised[name] for outcome in outcomes if name in outcome.realised]
        mean = float(np.mean(values))
        merged[name] = max(1, round(mean)) if isinstance(values[0], int) else float(f"{mean:.6g}")
    return merged

"""Fits that can be stopped: the training's progress callback is called often enough
during a fit that whatever it raises (the worker's reporter raises when the model was
deleted or the job given up) stops the training within seconds, not at the end of a
fit that may take minutes.

- CatBoost: an ``after_iteration`` callback (CatBoost cannot carry an exception out of
  a callback, so the callback stops the fit and the exception is raised afterwards).
- Forests and histogram boosting: grown in batches with ``warm_start``, which gives
  the same model as one fit (the seeds of later trees and the validation split do not
  depend on the batches); the callback runs between batches.
- Anything else (linear models, the support vector machine): one fit, bounded by its
  own ``max_iter``; the callback runs before and after.

Given ``until``, the percent moves from ``percent`` towards ``until`` as the trees or
iterations grow (the share done so far), so a long fit shows movement, not a still bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import Pipeline

Progress = Callable[[str, int], None]

# Trees (forests) or boosting iterations added between two progress calls.
FOREST_BATCH = 10
BOOSTING_BATCH = 20

# CatBoost's own default when ``iterations`` is not set.
CATBOOST_DEFAULT_ITERATIONS = 1000

_FORESTS = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)
_BOOSTING = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


def between(percent: int, until: int | None, done: float) -> int:
    """The percent ``done`` (0–1) of the way from ``percent`` to ``until``."""
    if until is None or until <= percent:
        return percent
    return percent + int((until - percent) * min(max(done, 0.0), 1.0))


class _CatBoostProgress:
    """CatBoost's callback: report every iteration (the reporter throttles itself);
    keep what it raises and stop the fit."""

    def __init__(
        self, report: Progress, stage: str, percent: int, until: int | None, iterations: int
    ) -> None:
        self.report, self.stage, self.percent, self.until = report, stage, percent, until
        self.iterations = max(iterations, 1)
        self.raised: BaseException | None = None

    def after_iteration(self, info: Any) -> bool:
        try:
            done = (getattr(info, "iteration", 0) or 0) / self.iterations
            self.report(self.stage, between(self.percent, self.until, done))
        except BaseException as error:  # noqa: BLE001 - carried out of CatBoost, raised after
            self.raised = error
            return False
        return True


def fit_stoppable(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    report: Progress,
    stage: str,
    percent: int,
    until: int | None = None,
) -> None:
    """Fit ``pipeline`` (preprocessing, then the model) on ``x``, ``y``, calling
    ``report(stage, …)`` all along, from ``percent`` towards ``until`` (when given) as
    the fit advances; what it raises stops the fit and propagates."""
    report(stage, percent)
    model = pipeline.named_steps["model"]
    if type(model).__module__.startswith("catboost"):
        iterations = model.get_params().get("iterations") or CATBOOST_DEFAULT_ITERATIONS
        callback = _CatBoostProgress(report, stage, percent, until, int(iterations))
        pipeline.fit(x, y, model__callbacks=[callback])
        if callback.raised is not None:
            raise callback.raised
    elif isinstance(model, _FORESTS):
        _grow(pipeline, x, y, "n_estimators", FOREST_BATCH, report, stage, percent, until)
    elif isinstance(model, _BOOSTING):
        _grow(pipeline, x, y, "max_iter", BOOSTING_BATCH, report, stage, percent, until)
    else:
        pipeline.fit(x, y)
    report(stage, until if until is not None else percent)


def _grow(
    pipeline: Pipeline,
    x: pd.DataFrame,
    y: np.ndarray,
    size_parameter: str,
    batch: int,
    report: Progress,
    stage: str,
    percent: int,
    until: int | None,
) -> None:
    model = pipeline.named_steps["model"]
    target = int(model.get_params()[size_parameter])
    encoded = pipeline.named_steps["preprocess"].fit_transform(x, y)
    size = 0
    try:
        while size < target:
            size = min(size + batch, target)
            model.set_params(warm_start=True, **{size_parameter: size})
            model.fit(encoded, y)
            # Early stopping ended the boosting before the batch did: so would one fit.
            if size_parameter == "max_iter" and model.n_iter_ < size:
                break
            report(stage, between(percent, until, size / target))
    finally:
        model.set_params(warm_start=False, **{size_parameter: target})


def stoppable_scorer(
    scorer: Callable[..., float],
    report: Progress,
    stage: str,
    percent: int,
    until: int | None = None,
    calls: int = 1,
):
    """A scorer that reports before each call (permutation importance calls it once,
    then once per feature and repeat: ``calls`` in all), moving towards ``until``."""
    made = [0]

    def score(estimator, x, y) -> float:
        report(stage, between(percent, until, made[0] / max(calls, 1)))
        made[0] += 1
        return scorer(estimator, x, y)

    return score

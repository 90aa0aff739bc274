"""The experiment job (core.jobs): claim, run the search through the engine, writing
each trial to the leaderboard as it ends, then train the winner as a model version —
or stop when canceled, or fail. Whatever ends it refunds the trials not run, once."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import F

from core.jobs.lifecycle import (
    RUNNING,
    SweepReport,
    job_cancel,
    job_claim,
    job_fail,
    job_progress,
    job_succeed,
    job_sweep,
)
from mlmodels.jobs import EXPERIMENT, experiment_refund_unused
from mlmodels.ml import search, search_plan
from mlmodels.ml.errors import MLError
from mlmodels.models import Experiment, ExperimentTrial, TrainedModel
from mlmodels.services.experiments import winner_request
from mlmodels.services.tracking import tracking_enqueue_experiment
from mlmodels.services.training import model_submit
from mlmodels.services.training_job import read_dataset_frame, training_claim, training_execute

logger = logging.getLogger(__name__)

# The last few percent are the winner's training.
SEARCH_PERCENT = 90


class ExperimentAbandoned(Exception):
    """The experiment left ``running`` while it searched (swept as stuck)."""


def experiment_claim(*, experiment_id: int, task_id: str = "") -> bool:
    """queued → running for this worker; False when it is not queued any more."""
    return job_claim(EXPERIMENT, experiment_id, progress=1, stage="starting", error="", task_id=task_id[:64])


class _Board:
    """The engine's callbacks: each finished trial becomes a leaderboard row and moves
    the experiment's counts, in one transaction, only while it is still running; a
    cancel request is read between trials and folds."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment
        self.started = time.monotonic()
        self.checked_at = 0.0
        self.cancel = False

    def _percent(self, trials_done: int) -> int:
        experiment = self.experiment
        by_trials = trials_done / max(experiment.max_trials, 1)
        by_time = (time.monotonic() - self.started) / max(experiment.time_budget_seconds, 1)
        return max(1, min(SEARCH_PERCENT, round(SEARCH_PERCENT * max(by_trials, by_time))))

    def on_trial(self, trial: search.TrialResult, best: search.TrialResult | None) -> None:
        experiment = self.experiment
        with transaction.atomic():
            ExperimentTrial.objects.create(
                experiment=experiment,
                number=trial.number,
                algorithm=trial.algorithm,
                hyperparameters=trial.hyperparameters,
                state=trial.state,
                cv_mean=trial.cv_mean,
                cv_std=trial.cv_std,
                scores=trial.scores,
                fit_seconds=round(trial.fit_seconds, 3),
                rows=trial.rows,
                error=(trial.error or "")[:2000],
            )
            trials_done = experiment.trials_done = experiment.trials_done + 1
            moved = job_progress(
                EXPERIMENT,
                experiment.pk,
                trials_done=F("trials_done") + 1,
                best_score=best.cv_mean if best else None,
                best_trial=best.number if best else None,
                progress=self._percent(trials_done),
                stage="searching",
            )
            if not moved:
                transaction.set_rollback(True)
        if not moved:
            raise ExperimentAbandoned()
        self.checked_at = 0.0  # between trials the cancel request is always read

    def should_stop(self) -> bool:
        # One small read after every trial, and at most every half second between folds.
        now = time.monotonic()
        if not self.cancel and now - self.checked_at >= 0.5:
            self.checked_at = now
            self.cancel = Experiment.objects.filter(
                pk=self.experiment.pk, cancel_requested_at__isnull=False
            ).exists()
        return self.cancel


def experiment_execute(*, experiment_id: int) -> Experiment:
    """Run an experiment already claimed (``running``). Runs outside any transaction
    (it is slow); every state change is a conditional UPDATE."""
    experiment = Experiment.objects.select_related("dataset").get(pk=experiment_id)
    board = _Board(experiment)
    try:
        frame = read_dataset_frame(experiment.dataset, experiment.dataset_name)
        plan = search.check_search(
            experiment.task,
            algorithms=list(experiment.algorithms),
            metric=experiment.metric,
            max_trials=experiment.max_trials,
            time_budget_seconds=experiment.time_budget_seconds,
            cv_folds=experiment.cv_folds,
            random_state=experiment.random_state,
        )
        result = search.run_search(
            frame,
            plan,
            target=experiment.target,
            test_size=experiment.test_size,
            random_state=experiment.random_state,
            on_trial=lambda trial, trials: board.on_trial(trial, _best(trials, plan)),
            should_stop=board.should_stop,
            max_encoded_cells=settings.TRAINING_MAX_ENCODED_CELLS,
        )
        del frame
    except ExperimentAbandoned:
        logger.info("experiment %s left running while it searched; stopped", experiment_id)
        return Experiment.objects.get(pk=experiment_id)
    except MLError as error:
        experiment_fail(experiment_id=experiment_id, error=error.readable())
        return Experiment.objects.get(pk=experiment_id)
    except Exception as error:
        logger.exception("experiment %s failed", experiment_id)
        experiment_fail(
            experiment_id=experiment_id, error=f"The search failed: {type(error).__name__}: {error}"
        )
        return Experiment.objects.get(pk=experiment_id)

    experiment.refresh_from_db()
    if board.cancel:
        job_cancel(
            EXPERIMENT,
            experiment_id,
            states=(RUNNING,),
            error=f"Canceled by its owner after {experiment.trials_done} trials; the trials not run were refunded.",
            stopped_because="canceled",
            search_seconds=round(result.seconds, 3),
        )
        return Experiment.objects.get(pk=experiment_id)
    best = result.best
    if best is None or best.state != ExperimentTrial.State.COMPLETE:
        failures = [trial.error for trial in result.trials if trial.error]
        reason = f" The first error: {failures[0]}" if failures else ""
        experiment_fail(experiment_id=experiment_id, error=f"No trial finished.{reason}")
        return Experiment.objects.get(pk=experiment_id)
    return _train_winner(experiment, best, result)


def _best(trials: list[search.TrialResult], plan: search_plan.SearchPlan) -> search.TrialResult | None:
    complete = [trial for trial in trials if trial.state == "complete" and trial.cv_mean is not None]
    if not complete:
        return None
    pick = max if plan.greater_is_better else min
    return pick(complete, key=lambda trial: trial.cv_mean)


def _train_winner(
    experiment: Experiment, best: search.TrialResult, result: search.SearchResult
) -> Experiment:
    """Train the best trial as the next version of the experiment's name (paid for by
    the experiment) in this worker, on the same split: the holdout is used once."""
    job_progress(EXPERIMENT, experiment.pk, stage="training the winner", progress=SEARCH_PERCENT)
    trial = ExperimentTrial.objects.get(experiment=experiment, number=best.number)
    model = model_submit(
        user=experiment.owner,
        request=winner_request(experiment, trial),
        charge=False,
        enqueue=False,
        experiment=experiment,
        experiment_trial=trial.number,
    )
    if training_claim(model_id=model.pk):
        model = training_execute(model_id=model.pk)
    if model.status != TrainedModel.Status.READY:
        experiment_fail(
            experiment_id=experiment.pk,
            error=f"The winner ({trial.algorithm}) could not be trained: {model.error}",
        )
        return Experiment.objects.get(pk=experiment.pk)
    # The winner's page shows the cross-validated figures of its trial.
    metrics = dict(model.metrics)
    metrics["cross_validation"] = {"folds": experiment.cv_folds, **trial.scores}
    TrainedModel.objects.filter(pk=model.pk).update(metrics=metrics)
    experiment_succeed(experiment_id=experiment.pk, model=model, result=result)
    return Experiment.objects.get(pk=experiment.pk)


def _succeeded(experiment_id: int) -> None:
    """In the transaction that ends the experiment: refund the trials not run, and log it
    to MLflow once that commits."""
    experiment_refund_unused(
        experiment_id=experiment_id, memo=f"Refund: trials of experiment #{experiment_id} not run"
    )
    tracking_enqueue_experiment(experiment_id)


def experiment_succeed(*, experiment_id: int, model: TrainedModel, result: search.SearchResult) -> bool:
    """running → succeeded with the winner, refunding the trials not run, in one
    transaction."""
    return job_succeed(
        EXPERIMENT,
        experiment_id,
        then=lambda: _succeeded(experiment_id),
        best_model=model,
        stopped_because=result.stopped_because,
        search_seconds=round(result.seconds, 3),
        progress=100,
        stage="done",
    )


def experiment_fail(*, experiment_id: int, error: str) -> bool:
    """running → failed, refunding the trials not run; False when it had moved on."""
    return job_fail(EXPERIMENT, experiment_id, error=error, stage="failed")


def experiment_sweep(*, now=None) -> SweepReport:
    """Experiments lost or stuck: the one sweep policy (core.jobs.lifecycle.job_sweep)."""
    return job_sweep(EXPERIMENT, now=now)

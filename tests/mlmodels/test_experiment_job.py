"""The experiment job run in-process: leaderboard, winner, promote, cancel mid-run,
failure and the sweep — each charging once and refunding the trials not run at most
once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.audit import billing_audit
from billing.models import LedgerEntry
from mlmodels import services
from mlmodels.models import Experiment, TrainedModel
from mlmodels.services import experiment_job
from mlmodels.tasks import experiment_task
from tests.mlmodels.conftest import FEE, balance_of, ledger_kinds

URL = "/api/v1/experiments/"
START = Decimal("500.00")


@pytest.fixture
def start(alice_api, dataset):
    def run(**changes) -> int:
        data = {
            "dataset": dataset.pk,
            "target": "label",
            "algorithms": ["logistic_regression", "random_forest_classifier"],
            "max_trials": 4,
            "cv_folds": 2,
            "random_state": 7,
        }
        data.update(changes)
        response = alice_api.post(URL, data, format="json")
        assert response.status_code == 202, response.json()
        return response.json()["id"]

    return run


def refunds(experiment_id: int) -> list[Decimal]:
    return list(
        LedgerEntry.objects.filter(experiment_id=experiment_id, kind="refund").values_list(
            "amount", flat=True
        )
    )


def test_an_experiment_ranks_its_trials_and_trains_the_winner(alice_api, alice, start):
    experiment_id = start()
    experiment_task(experiment_id)

    answer = alice_api.get(f"{URL}{experiment_id}/").json()
    assert answer["status"] == "succeeded", answer["error"]
    assert answer["trials_done"] == 4
    board = answer["leaderboard"]
    assert [row["rank"] for row in board] == [1, 2, 3, 4]
    complete = [row for row in board if row["state"] == "complete"]
    assert complete, board
    scores = [row["cv_mean"] for row in complete]
    assert scores == sorted(scores, reverse=True)  # ROC AUC: higher first
    assert answer["best_score"] == pytest.approx(complete[0]["cv_mean"])
    assert answer["best_trial"] == complete[0]["trial"]
    # Each algorithm's first trial is its defaults.
    first_of = {}
    for row in sorted(board, key=lambda row: row["trial"]):
        first_of.setdefault(row["algorithm"], row)
    assert set(first_of) == {"logistic_regression", "random_forest_classifier"}

    winner = TrainedModel.objects.get(pk=answer["best_model"])
    assert winner.status == "ready"
    assert (winner.experiment_id, winner.experiment_trial) == (experiment_id, answer["best_trial"])
    assert winner.algorithm.key == complete[0]["algorithm"]
    assert winner.training_fee == 0  # the experiment paid for it
    assert winner.metrics["cross_validation"]["folds"] == 2
    assert "roc_auc" in winner.metrics and winner.refit_full
    # Every trial ran: nothing to refund; one charge.
    assert refunds(experiment_id) == []
    assert ledger_kinds(alice) == ["signup_bonus", "experiment_charge"]
    assert billing_audit() == []


def test_the_same_request_gives_the_same_leaderboard(alice_api, start):
    boards = []
    for _ in range(2):
        experiment_id = start()
        experiment_task(experiment_id)
        board = alice_api.get(f"{URL}{experiment_id}/").json()["leaderboard"]
        boards.append(
            [(row["trial"], row["algorithm"], row["hyperparameters"], row["cv_mean"]) for row in board]
        )
    assert boards[0] == boards[1]


def test_a_time_budget_that_ends_early_refunds_the_trials_not_run(alice, start, settings):
    experiment_id = start(max_trials=50, time_budget_seconds=1)
    experiment_task(experiment_id)

    experiment = Experiment.objects.get(pk=experiment_id)
    assert experiment.status == "succeeded", experiment.error
    assert experiment.stopped_because == "time_budget"
    assert 1 <= experiment.trials_done < 50
    assert refunds(experiment_id) == [FEE * (50 - experiment.trials_done)]
    assert balance_of(alice) == START - FEE * experiment.trials_done
    assert billing_audit() == []


def test_cancel_mid_run_stops_after_the_current_trial_and_refunds_the_rest(
    alice, alice_api, start, monkeypatch
):
    experiment_id = start(max_trials=6)
    on_trial = experiment_job._Board.on_trial

    def and_cancel_after_the_second(board, trial, best):
        on_trial(board, trial, best)
        if board.experiment.trials_done == 2:
            assert alice_api.post(f"{URL}{experiment_id}/cancel/").json()["cancel_requested"] is True

    monkeypatch.setattr(experiment_job._Board, "on_trial", and_cancel_after_the_second)
    experiment_task(experiment_id)

    experiment = Experiment.objects.get(pk=experiment_id)
    assert experiment.status == "canceled"
    # Asked between trials: the search reads the request before starting the third,
    # however fast the trials are.
    assert experiment.trials_done == 2
    assert experiment.trials.count() == experiment.trials_done
    assert refunds(experiment_id) == [FEE * (6 - experiment.trials_done)]
    # Its complete trials can still be promoted, at the algorithm's training price.
    trial = experiment.trials.filter(state="complete").first()
    promoted = alice_api.post(f"{URL}{experiment_id}/promote/", {"trial": trial.number}, format="json")
    assert promoted.status_code == 202, promoted.json()
    model = TrainedModel.objects.get(pk=promoted.json()["id"])
    assert (model.experiment_id, model.experiment_trial, model.training_fee) == (
        experiment_id,
        trial.number,
        FEE,
    )
    assert model.hyperparameters == trial.hyperparameters
    assert billing_audit() == []


def test_a_failed_experiment_refunds_the_trials_not_run_once(alice, start, dataset):
    experiment_id = start()
    services.dataset_delete(dataset=dataset)  # its file goes: the job cannot read it
    experiment_task(experiment_id)

    experiment = Experiment.objects.get(pk=experiment_id)
    assert experiment.status == "failed"
    assert "deleted" in experiment.error
    assert refunds(experiment_id) == [FEE * 4]
    assert balance_of(alice) == START
    # A second delivery of the task and the sweep change nothing.
    experiment_task(experiment_id)
    services.experiment_sweep(now=timezone.now() + timedelta(days=1))
    assert refunds(experiment_id) == [FEE * 4]
    assert billing_audit() == []


def test_the_sweep_fails_an_experiment_whose_worker_died_and_refunds_once(alice, start, settings):
    experiment_id = start()
    assert services.experiment_claim(experiment_id=experiment_id)
    Experiment.objects.filter(pk=experiment_id).update(trials_done=1)  # it got one trial done, then died
    later = timezone.now() + timedelta(seconds=settings.TASK_TIMEOUT + 3600)

    assert services.experiment_sweep(now=later).failed_running == [experiment_id]
    assert services.experiment_sweep(now=later).failed_running == []

    experiment = Experiment.objects.get(pk=experiment_id)
    assert experiment.status == "failed"
    assert "did not finish" in experiment.error
    assert refunds(experiment_id) == [FEE * 3]
    assert billing_audit() == []

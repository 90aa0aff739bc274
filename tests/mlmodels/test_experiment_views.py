"""Experiment pages: "Find the best model" (defaults, errors, charging once), the live
page with its leaderboard and chart data, cancel, promote, access rules; and the
experiment's traces on the model page and the train form (cross-validation, refit)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from mlmodels import services
from mlmodels.ml import catalog
from mlmodels.models import Experiment, ExperimentTrial, TrainedModel
from tests.mlmodels.conftest import FEE, balance_of, ledger_kinds

HTMX = {"HTTP_HX_REQUEST": "true"}
CLASSIFIERS = [key for key, spec in catalog.ALGORITHMS.items() if spec.task == "classification"]
REGRESSORS = [key for key, spec in catalog.ALGORITHMS.items() if spec.task == "regression"]


def form_for(dataset, **changes) -> dict:
    """The "Find the best model" form as a browser sends it, every algorithm checked
    (the empty metric, seed and name are left out, as they mean the defaults)."""
    algorithms = CLASSIFIERS + REGRESSORS
    form = {"dataset": dataset.pk, "target": "label", "algorithms": algorithms, "max_trials": "4"}
    return {**form, "time_budget_seconds": "60", "cv_folds": "2", **changes}


@pytest.fixture
def experiment(alice, dataset):
    """Alice's queued experiment on ``dataset`` (4 trials at 5.00: 20.00 charged)."""
    return services.experiment_start(
        user=alice, dataset=dataset.pk, target="label", max_trials=4, cv_folds=2, time_budget_seconds=60
    ).experiment


def add_trial(experiment, number, *, state="complete", mean=None, algorithm="logistic_regression", **fields):
    scores = {"roc_auc": {"mean": mean, "std": 0.01}, "accuracy": {"mean": 0.8, "std": 0.02}} if mean else {}
    fields.setdefault("hyperparameters", {"C": 0.5, "penalty": "l2"})
    std = 0.01 if mean is not None else None
    return ExperimentTrial.objects.create(
        experiment=experiment, number=number, algorithm=algorithm, state=state, cv_mean=mean, cv_std=std,
        scores=scores, fit_seconds=0.05, rows=48, **fields,
    )  # fmt: skip


def finish(experiment, status="succeeded", **fields):
    Experiment.objects.filter(pk=experiment.pk).update(
        status=status, started_at=timezone.now(), finished_at=timezone.now(), progress=100, **fields
    )
    experiment.refresh_from_db()
    return experiment


def leaderboard_trials(content: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr[^>]*data-trial="(\d+)"', content)]


def test_pages_need_a_login(client, experiment):
    for url in (
        reverse("mlmodels:experiment-list"),
        reverse("mlmodels:experiment-new"),
        reverse("mlmodels:experiment-detail", args=[experiment.pk]),
        reverse("mlmodels:experiment-status", args=[experiment.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_the_form_offers_the_datasets_columns_every_algorithm_and_the_defaults(alice_web, dataset):
    response = alice_web.get(reverse("mlmodels:experiment-new"), {"dataset": dataset.pk})

    content = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{dataset.pk}" selected>' in content
    assert '<option value="label">label (categorical)</option>' in content
    for key in CLASSIFIERS + REGRESSORS:
        assert re.search(rf'value="{key}" id="[^"]+" checked>', content), key
    assert 'name="max_trials" value="30"' in content
    assert 'name="cv_folds" value="5"' in content
    assert re.search(r'name="time_budget_seconds" value="(\d+)"', content)
    assert "Automatic: ROC AUC for classes, RMSE for numbers" in content
    # 5.00 a trial (the cheapest training price) × 30 trials; the balance; the refund.
    cost = " ".join(
        re.sub(r"<[^>]+>", "", content.split('id="experiment-cost"')[1].split("</div>")[0]).split()
    )
    assert "5.00 coins per trial × 30 trials = 150.00 coins" in cost
    assert "Your balance is 500.00" in cost
    assert "are refunded when it ends" in content
    assert 'hx-get="/experiments/new/"' in content

    # Changing the dataset re-renders the fields (htmx), keeping what was typed.
    partial = alice_web.get(
        reverse("mlmodels:experiment-new"),
        {"dataset": dataset.pk, "max_trials": "8", "algorithms": ["ridge"], "idempotency_key": "k" * 32},
        **HTMX,
    )
    content = partial.content.decode()
    assert content.lstrip().startswith('<div id="experiment-fields">')
    assert 'name="max_trials" value="8"' in content and "= <strong data-cost-total>40.00</strong>" in content
    assert re.search(r'value="ridge" id="[^"]+" checked>', content)
    assert not re.search(r'value="svc" id="[^"]+" checked>', content)


def test_starting_an_experiment_charges_the_trial_cap_once_and_opens_its_page(alice_web, alice, dataset):
    page = alice_web.get(reverse("mlmodels:experiment-new"), {"dataset": dataset.pk}).content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page).group(1)
    form = form_for(dataset, idempotency_key=key, name="churn finder")

    first = alice_web.post(reverse("mlmodels:experiment-new"), form)
    second = alice_web.post(reverse("mlmodels:experiment-new"), form)

    experiment = Experiment.objects.get()
    assert first.status_code == second.status_code == 302
    assert (
        first["Location"] == second["Location"] == reverse("mlmodels:experiment-detail", args=[experiment.pk])
    )
    # Every box checked: every algorithm that suits the target (a class label).
    assert sorted(experiment.algorithms) == sorted(CLASSIFIERS)
    assert (experiment.max_trials, experiment.cv_folds, experiment.metric) == (4, 2, "roc_auc")
    assert experiment.name == "churn finder" and experiment.cost == Decimal("20.00")
    assert balance_of(alice) == Decimal("480.00")
    assert ledger_kinds(alice) == ["signup_bonus", "experiment_charge"]
    content = alice_web.get(first["Location"]).content.decode()
    assert f"Experiment #{experiment.pk} is queued: up to 4 trials; 20.00 coins were charged." in content
    assert "Waiting for a worker" in content


def test_some_algorithms_checked_are_sent_as_chosen(alice_web, alice, dataset):
    alice_web.post(
        reverse("mlmodels:experiment-new"),
        # The regression group left whole beside the narrowed one is not a choice.
        form_for(
            dataset,
            algorithms=["random_forest_classifier", "logistic_regression", *REGRESSORS],
            metric="accuracy",
        ),
    )

    experiment = Experiment.objects.get()
    assert sorted(experiment.algorithms) == ["logistic_regression", "random_forest_classifier"]
    assert experiment.metric == "accuracy"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"max_trials": "0", "cv_folds": "11"}, "max_trials", "from 1 to 500"),
        ({"max_trials": "0", "cv_folds": "11"}, "cv_folds", "from 2 to 10"),
        ({"algorithms": ["ridge", "svc"]}, "algorithms", "not both"),
        ({"algorithms": []}, "algorithms", "Check at least one algorithm"),
        ({"target": ""}, "target", "This field is required"),
        ({"metric": "rmse"}, "metric", "choose from: roc_auc, accuracy, f1, log_loss"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_charges_nothing(
    alice_web, alice, dataset, changes, field, message
):
    response = alice_web.post(reverse("mlmodels:experiment-new"), form_for(dataset, **changes))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was charged." in content
    assert message in content
    if field == "algorithms":
        assert 'id="algorithms-error"' in content
    else:
        tag = re.search(rf'<(input|select)[^>]*name="{field}"[^>]*>', content).group(0)
        assert "is-invalid" in tag, tag
    assert Experiment.objects.count() == 0
    assert ledger_kinds(alice) == ["signup_bonus"]


def test_a_search_dearer_than_the_balance_is_refused_and_charges_nothing(alice_web, alice, dataset):
    response = alice_web.post(reverse("mlmodels:experiment-new"), form_for(dataset, max_trials="500"))

    content = response.content.decode()
    assert "Not enough coins: this costs 2500.00 and your balance is 500.00." in content
    assert "Nothing was charged." in content
    assert Experiment.objects.count() == 0
    assert ledger_kinds(alice) == ["signup_bonus"]


def test_bob_gets_404_on_every_page_of_alices_experiment(client, bob, alice, experiment):
    add_trial(experiment, 0, mean=0.8)
    finish(experiment, best_trial=0, best_score=0.8)
    client.force_login(bob)

    for url in (
        reverse("mlmodels:experiment-detail", args=[experiment.pk]),
        reverse("mlmodels:experiment-status", args=[experiment.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("mlmodels:experiment-cancel", args=[experiment.pk])).status_code == 404
    promote = client.post(reverse("mlmodels:experiment-promote", args=[experiment.pk]), {"trial": 0})
    assert promote.status_code == 404
    assert "#1" not in client.get(reverse("mlmodels:experiment-list")).content.decode()
    assert TrainedModel.objects.count() == 0
    assert ledger_kinds(bob) == ["signup_bonus"]
    # Bob's own form does not offer alice's dataset either.
    form = client.get(reverse("mlmodels:experiment-new"), {"dataset": experiment.dataset_id}).content.decode()
    assert "customers" not in form


def test_the_list_shows_each_experiment_with_its_numbers(alice_web, experiment):
    Experiment.objects.filter(pk=experiment.pk).update(trials_done=3, best_score=0.91234)

    content = alice_web.get(reverse("mlmodels:experiment-list")).content.decode()

    row = content.split('id="experiments"')[1]
    assert f"#{experiment.pk} customers · label" in row
    assert "customers → <code>label</code>" in row
    assert "ROC AUC" in row and "3 / 4" in row and "0.9123" in row and "20.00" in row


def test_canceling_a_queued_experiment_refunds_it_all(alice_web, alice, experiment):
    page = alice_web.get(reverse("mlmodels:experiment-detail", args=[experiment.pk])).content.decode()
    assert "the whole charge is refunded" in page

    response = alice_web.post(reverse("mlmodels:experiment-cancel", args=[experiment.pk]), follow=True)

    content = response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == "canceled"
    assert "Canceled before it started; 20.00 coins were refunded." in content
    assert 'id="experiment-refunded">20.00 coins' in content
    assert balance_of(alice) == Decimal("500.00")
    assert ledger_kinds(alice) == ["signup_bonus", "experiment_charge", "refund"]
    assert 'hx-trigger="every 2s"' not in content
    assert "bi-stop-circle" not in content
    # Twice: the service's 409, said in words.
    again = alice_web.post(reverse("mlmodels:experiment-cancel", args=[experiment.pk]), follow=True)
    assert "only a queued or running one can be canceled" in again.content.decode()
    assert ledger_kinds(alice) == ["signup_bonus", "experiment_charge", "refund"]


def test_canceling_a_running_experiment_asks_the_worker_to_stop(alice_web, alice, experiment):
    assert services.experiment_claim(experiment_id=experiment.pk)

    response = alice_web.post(reverse("mlmodels:experiment-cancel", args=[experiment.pk]), follow=True)

    content = response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == "running" and experiment.cancel_requested_at is not None
    assert "Cancel requested: the search stops after the trial it is running" in content
    assert 'id="cancel-requested"' in content and "Stopping after the current trial" in content
    assert "bi-stop-circle" not in content
    assert balance_of(alice) == Decimal("480.00")


def test_the_leaderboard_ranks_complete_trials_by_score_then_the_rest(alice_web, experiment):
    add_trial(experiment, 0, mean=0.70)
    add_trial(experiment, 1, state="pruned", mean=None)
    add_trial(
        experiment, 2, mean=0.90, algorithm="random_forest_classifier", hyperparameters={"n_estimators": 40}
    )
    add_trial(experiment, 3, state="failed", error="ValueError: nope")
    add_trial(experiment, 4, mean=0.80)
    Experiment.objects.filter(pk=experiment.pk).update(
        status="running", started_at=timezone.now(), trials_done=5, best_trial=2, best_score=0.9
    )

    content = alice_web.get(reverse("mlmodels:experiment-detail", args=[experiment.pk])).content.decode()

    assert leaderboard_trials(content) == [2, 4, 0, 1, 3]
    board = content.split('id="leaderboard"')[1]
    assert "Random forest" in board and "n_estimators=40" in board
    assert "0.9000" in board and "± 0.0100" in board
    assert 'title="ValueError: nope"' in board
    # Promoting waits for the end: a running leaderboard is redrawn every 2 s.
    assert "Promote" not in board
    chart = json.loads(
        content.split('id="experiment-chart-data" type="application/json">')[1].split("</script>")[0]
    )
    assert chart["points"] == [{"x": 0, "y": 0.7}, {"x": 2, "y": 0.9}, {"x": 4, "y": 0.8}]
    assert chart["best"] == [{"x": 0, "y": 0.7}, {"x": 2, "y": 0.9}, {"x": 4, "y": 0.9}]
    assert "chartjs/chart.umd.min.js" in content and "js/experiments.js" in content


def test_the_status_partial_polls_while_running_and_stops_when_finished(alice_web, experiment):
    url = reverse("mlmodels:experiment-status", args=[experiment.pk])
    queued = alice_web.get(url, **HTMX)
    assert 'hx-trigger="every 2s"' in queued.content.decode()
    assert "Waiting for a worker" in queued.content.decode()
    assert "HX-Refresh" not in queued

    services.experiment_claim(experiment_id=experiment.pk)
    add_trial(experiment, 0, mean=0.75)
    Experiment.objects.filter(pk=experiment.pk).update(
        trials_done=1, best_trial=0, best_score=0.75, progress=30
    )
    running = alice_web.get(url, **HTMX).content.decode()
    assert 'hx-trigger="every 2s"' in running and 'aria-valuenow="30"' in running
    assert "1 / 4" in running and "0.75" in running and " s</div>" in running  # time left
    # The leaderboard and the chart's data come along out of band.
    assert '<div id="experiment-leaderboard" hx-swap-oob="true">' in running
    assert leaderboard_trials(running) == [0]

    finish(experiment, trials_done=1)
    done = alice_web.get(url, **HTMX)
    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_a_finished_experiment_shows_the_winner_and_promotes_a_trial_as_a_paid_training(
    alice_web, alice, experiment, trained_model
):
    add_trial(experiment, 0, mean=0.90)
    add_trial(experiment, 1, mean=0.85, hyperparameters={"C": 0.25})
    add_trial(experiment, 2, state="pruned")
    finish(experiment, trials_done=3, best_trial=0, best_score=0.9, best_model=trained_model)
    TrainedModel.objects.filter(pk=trained_model.pk).update(experiment=experiment, experiment_trial=0)
    balance = balance_of(alice)

    page = alice_web.get(reverse("mlmodels:experiment-detail", args=[experiment.pk])).content.decode()
    winner = page.split('id="winner"')[1].split('id="experiment-chart"')[0]
    assert reverse("mlmodels:model-detail", args=[trained_model.pk]) in winner
    assert reverse("predictions:predict", args=[trained_model.pk]) in winner and "Predict with it" in winner
    assert "accuracy" in winner
    # A Promote button on each complete row (not the pruned one), with its price.
    assert page.count(f'action="/experiments/{experiment.pk}/promote/"') == 2
    assert "5.00 coins, its algorithm's training price" in page
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"><input[^>]*name="trial" value="1"', page)
    form = {"trial": "1", "idempotency_key": key.group(1)}

    first = alice_web.post(reverse("mlmodels:experiment-promote", args=[experiment.pk]), form)
    second = alice_web.post(reverse("mlmodels:experiment-promote", args=[experiment.pk]), form)

    model = TrainedModel.objects.exclude(pk=trained_model.pk).get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("mlmodels:model-detail", args=[model.pk])
    assert (model.experiment_id, model.experiment_trial) == (experiment.pk, 1)
    assert model.hyperparameters["C"] == 0.25
    assert model.name == experiment.name and model.training_fee == FEE
    assert balance_of(alice) == balance - FEE
    shown = alice_web.get(first["Location"]).content.decode()
    assert f"Training trial 1 as “{model}” has started; 5.00 coins were charged." in shown
    assert 'id="experiment-link"' in shown
    # The experiment's page lists the promoted trial.
    page = alice_web.get(reverse("mlmodels:experiment-detail", args=[experiment.pk])).content.decode()
    assert 'id="promoted"' in page and str(model) in page


def test_promoting_a_pruned_trial_says_why_and_charges_nothing(alice_web, alice, experiment):
    add_trial(experiment, 0, state="pruned")
    finish(experiment, status="canceled", trials_done=1)
    balance = balance_of(alice)

    response = alice_web.post(
        reverse("mlmodels:experiment-promote", args=[experiment.pk]), {"trial": "0"}, follow=True
    )

    assert "only a complete trial can be promoted" in response.content.decode()
    assert TrainedModel.objects.count() == 0
    assert balance_of(alice) == balance


def test_a_failed_experiment_says_why_and_what_was_refunded(alice_web, alice, experiment):
    services.experiment_claim(experiment_id=experiment.pk)
    services.experiment_fail(experiment_id=experiment.pk, error="No trial finished. The first error: boom")

    content = alice_web.get(reverse("mlmodels:experiment-detail", args=[experiment.pk])).content.decode()

    assert "The experiment failed" in content and "The first error: boom" in content
    assert "20.00 coins for the trials not run were refunded" in content
    assert 'id="experiment-cost">20.00 coins' in content
    assert balance_of(alice) == Decimal("500.00")


def test_the_dataset_page_and_the_menu_lead_to_the_experiments(alice_web, dataset):
    content = alice_web.get(reverse("mlmodels:dataset-detail", args=[dataset.pk])).content.decode()

    assert f'href="/experiments/new/?dataset={dataset.pk}"' in content and "Find the best model" in content
    assert 'href="/experiments/">Experiments</a>' in content


def test_the_model_page_shows_cross_validated_figures_beside_the_holdout(
    alice_web, trained_model, experiment
):
    metrics = dict(trained_model.metrics)
    folds = {"roc_auc": (0.8812, 0.0213), "accuracy": (0.7777, 0.0401), "f1": (0.75, 0.05)}
    folds["log_loss"] = (0.4321, 0.0123)
    metrics["cross_validation"] = {"folds": 3} | {
        name: {"mean": mean, "std": std} for name, (mean, std) in folds.items()
    }
    TrainedModel.objects.filter(pk=trained_model.pk).update(
        metrics=metrics, experiment=experiment, experiment_trial=2, cv_folds=3
    )
    trained_model.refresh_from_db()

    content = alice_web.get(reverse("mlmodels:model-detail", args=[trained_model.pk])).content.decode()

    assert "CV 0.881 ± 0.021" in content and "CV 0.778 ± 0.040" in content
    assert "Log loss (CV)" in content and "0.432" in content
    assert "mean ± spread over 3 cross-validation folds" in content
    assert trained_model.metrics_source in content
    assert f'href="/experiments/{experiment.pk}/"' in content and "trial #2 of experiment" in content


def test_the_model_page_without_cross_validation_shows_no_cv_figures(alice_web, trained_model):
    content = alice_web.get(reverse("mlmodels:model-detail", args=[trained_model.pk])).content.decode()

    assert "cv-score" not in content and 'id="cross-validation-note"' not in content
    assert 'id="metrics-source"' in content and 'id="experiment-link"' not in content


# The train form as a browser sends it for a logistic regression (the dataset is added).
TRAIN_FORM = {"name": "churn", "target": "label", "algorithm": "logistic_regression", "test_size": "0.2"}
TRAIN_FORM |= {"random_state": "42", "hp_C": "1.0", "hp_penalty": "l2", "hp_solver": "lbfgs"}
TRAIN_FORM |= {"hp_l1_ratio": "", "hp_max_iter": "200", "hp_class_weight": "none"}
TRAIN_FORM |= {"features": ["x", "noise", "color"]}  # the boxes that start checked


def test_the_train_form_sends_cross_validation_folds_and_the_refit_choice(alice_web, dataset):
    page = alice_web.get(reverse("mlmodels:model-train"), {"dataset": dataset.pk}).content.decode()
    assert 'name="cv_folds"' in page
    assert re.search(r'name="refit_full"[^>]*checked', page)

    alice_web.post(
        reverse("mlmodels:model-train"),
        {**TRAIN_FORM, "dataset": dataset.pk, "cv_folds": "3", "refit_full": "on"},
    )
    alice_web.post(reverse("mlmodels:model-train"), {**TRAIN_FORM, "dataset": dataset.pk, "name": "plain"})

    folded, plain = TrainedModel.objects.get(name="churn"), TrainedModel.objects.get(name="plain")
    assert (folded.cv_folds, folded.refit_full) == (3, True)
    assert (plain.cv_folds, plain.refit_full) == (None, False)


def test_the_train_form_keeps_an_unchecked_refit_when_it_re_renders(alice_web, dataset):
    partial = alice_web.get(
        reverse("mlmodels:model-train"),
        {"dataset": dataset.pk, "target": "label", "idempotency_key": "a" * 32, "cv_folds": "4"},
        **HTMX,
    ).content.decode()

    assert not re.search(r'name="refit_full"[^>]*checked', partial)
    assert 'name="cv_folds" value="4"' in partial


def test_a_bad_fold_count_on_the_train_form_is_shown_next_to_it(alice_web, alice, dataset):
    response = alice_web.post(
        reverse("mlmodels:model-train"), {**TRAIN_FORM, "dataset": dataset.pk, "cv_folds": "11"}
    )

    assert (
        "Cross-validation folds must be a whole number from 2 to 10, or left out."
        in response.content.decode()
    )
    assert TrainedModel.objects.count() == 0
    assert ledger_kinds(alice) == ["signup_bonus"]

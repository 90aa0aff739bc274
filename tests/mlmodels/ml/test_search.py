"""run_search on small tables: defaults first, seeded, folds on the training part
only, pruning, budgets, cancel, failures kept in the leaderboard."""

from __future__ import annotations

import dataclasses
import json

import pytest

import mlmodels.ml.search as search_module
import mlmodels.ml.trialfit as trialfit_module
from mlmodels.ml.catalog import validate_hyperparameters
from mlmodels.ml.errors import MLError, SearchError
from mlmodels.ml.holdout import load_rows, split_holdout
from mlmodels.ml.preprocessing import encoded_width, feature_counts
from mlmodels.ml.search import check_search, default_metric, run_search, rung_sizes

CHEAP = ["logistic_regression", "gradient_boosting_classifier"]


def plan(**options):
    settings = {
        "algorithms": CHEAP,
        "max_trials": 6,
        "time_budget_seconds": None,
        "cv_folds": 3,
        "random_state": 0,
    }
    settings.update(options)
    return check_search(settings.pop("task", "classification"), **settings)


def search(table, the_plan, **options):
    options.setdefault("target", "label")
    options.setdefault("test_size", 0.25)
    options.setdefault("random_state", 0)
    return run_search(table, the_plan, **options)


def leaderboard(result):
    return [
        (t.number, t.algorithm, t.hyperparameters, t.state, t.cv_mean, t.cv_std, t.scores, t.rows, t.error)
        for t in result.trials
    ]


# --- the plan --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field", "fragment"),
    [
        ({"algorithms": ["xgboost"]}, "algorithms", "unknown algorithm 'xgboost'"),
        ({"algorithms": ["ridge"]}, "algorithms", "'ridge' is a regression algorithm"),
        ({"algorithms": []}, "algorithms", "choose at least one"),
        ({"max_trials": 0}, "max_trials", "from 1 to 500"),
        ({"max_trials": 501}, "max_trials", "from 1 to 500"),
        ({"max_trials": 2.5}, "max_trials", "whole number"),
        ({"time_budget_seconds": 0.5}, "time_budget_seconds", "from 1 to 3600"),
        ({"time_budget_seconds": 3601}, "time_budget_seconds", "from 1 to 3600"),
        ({"cv_folds": 1}, "cv_folds", "from 2 to 10"),
        ({"cv_folds": 11}, "cv_folds", "from 2 to 10"),
        ({"metric": "rmse"}, "metric", "unknown metric 'rmse' for classification"),
        ({"random_state": -1}, "random_state", "from 0 to"),
    ],
)
def test_a_bad_search_setting_is_refused_on_its_field(options, field, fragment):
    with pytest.raises(SearchError) as caught:
        plan(**options)
    assert list(caught.value.errors) == [field]
    assert fragment in caught.value.errors[field][0]
    assert isinstance(caught.value, MLError)


def test_every_algorithm_of_the_task_is_searched_cheapest_first_by_default():
    the_plan = check_search("classification", algorithms=None, metric=None)
    assert the_plan.algorithms == [
        "logistic_regression",
        "random_forest_classifier",
        "gradient_boosting_classifier",
        "catboost_classifier",
        "svc",
    ]
    assert (the_plan.metric, the_plan.greater_is_better) == ("roc_auc", True)
    assert (the_plan.max_trials, the_plan.time_budget_seconds, the_plan.cv_folds) == (30, 600, 5)
    regression = check_search("regression", algorithms=["catboost_regressor", "ridge"], metric="mae")
    assert regression.algorithms == ["ridge", "catboost_regressor"]
    assert regression.greater_is_better is False
    assert default_metric("regression") == "rmse"


# --- the search ------------------------------------------------------------------------


def test_each_algorithms_first_trial_is_its_defaults_cheapest_first(raw_table):
    result = search(raw_table(rows=100), plan(algorithms=list(reversed(CHEAP)), max_trials=3))
    first, second = result.trials[:2]
    assert first.algorithm == "logistic_regression"
    assert first.hyperparameters == validate_hyperparameters("logistic_regression", {})
    assert second.algorithm == "gradient_boosting_classifier"
    assert second.hyperparameters == validate_hyperparameters("gradient_boosting_classifier", {})
    assert first.state == second.state == "complete"
    assert result.stopped_because == "max_trials" and len(result.trials) == 3
    assert set(first.scores) == {"roc_auc", "accuracy", "f1", "log_loss"}
    assert first.cv_mean == first.scores["roc_auc"]["mean"]
    json.dumps(dataclasses.asdict(result), allow_nan=False)


def test_the_same_seed_gives_the_same_leaderboard(raw_table):
    table = raw_table(rows=100)
    first = search(table, plan(max_trials=7))
    second = search(table, plan(max_trials=7))
    assert leaderboard(first) == leaderboard(second)
    assert first.best.number == second.best.number
    other = search(table, plan(max_trials=7, random_state=1))
    assert leaderboard(other) != leaderboard(first)


def test_folds_never_see_the_holdout(raw_table, monkeypatch):
    table = raw_table(rows=120)
    features = ["id", "signal", "noise", "color", "flag"]  # the id marks each row
    seen = []
    real_fit_fold = search_module.fit_fold

    def spy(spec, params, chosen, x_fit, y_fit, x_score, y_score, **options):
        seen.append((set(x_fit["id"]), set(x_score["id"])))
        return real_fit_fold(spec, params, chosen, x_fit, y_fit, x_score, y_score, **options)

    monkeypatch.setattr(search_module, "fit_fold", spy)
    result = search(table, plan(max_trials=2), features=features)
    rows = load_rows(table, target="label", task="classification", features=features)
    holdout = split_holdout(rows, task="classification", test_size=0.25, random_state=0)
    training_ids, holdout_ids = set(holdout.x_train["id"]), set(holdout.x_test["id"])
    assert len(seen) == 2 * 3  # two trials, three folds
    for fit_ids, score_ids in seen:
        assert not (fit_ids | score_ids) & holdout_ids
        assert not fit_ids & score_ids
    scored = set().union(*(score_ids for _, score_ids in seen[:3]))
    assert scored == training_ids  # each training row scored once per trial
    assert result.n_train == len(training_ids)


def test_hopeless_trials_are_pruned_but_defaults_never(raw_table):
    result = search(raw_table(rows=100), plan(max_trials=20))
    pruned = [trial for trial in result.trials if trial.state == "pruned"]
    assert pruned
    assert all(trial.cv_mean is None and "worse than the median" in trial.error for trial in pruned)
    assert [trial.state for trial in result.trials[:2]] == ["complete", "complete"]
    complete = [trial for trial in result.trials if trial.state == "complete"]
    assert result.best.cv_mean == max(trial.cv_mean for trial in complete)


def test_the_time_budget_stops_the_search(raw_table):
    the_plan = plan(algorithms=["random_forest_classifier"], max_trials=500, time_budget_seconds=1)
    result = search(raw_table(rows=100), the_plan)
    assert result.stopped_because == "time_budget"
    assert 1 <= len(result.trials) < 500
    assert result.seconds < 5


def test_should_stop_ends_the_search_between_trials_and_folds(raw_table):
    table = raw_table(rows=100)
    finished = []
    result = search(table, plan(max_trials=4), on_trial=lambda trial, trials: finished.append(len(trials)))
    assert finished == [1, 2, 3, 4] and result.stopped_because == "max_trials"

    calls = []

    def stop_on_the_fifth_check():
        calls.append(1)
        return len(calls) >= 5

    result = search(table, plan(max_trials=10), should_stop=stop_on_the_fifth_check)
    assert result.stopped_because == "stopped"
    # Checks: before trial 0, its 3 folds, before trial 1 → asked to stop there.
    assert [trial.state for trial in result.trials] == ["complete"]


def test_a_stop_inside_a_trial_marks_it_pruned(raw_table):
    calls = []

    def stop_during_the_second_trial():
        calls.append(1)
        return len(calls) >= 7  # before trial 0, 3 folds, before trial 1, its first fold, …

    result = search(raw_table(rows=100), plan(max_trials=10), should_stop=stop_during_the_second_trial)
    assert result.stopped_because == "stopped"
    assert [trial.state for trial in result.trials] == ["complete", "pruned"]
    assert result.trials[1].error == "stopped before it finished"


def test_a_failing_trial_is_listed_and_the_search_goes_on(raw_table, monkeypatch):
    real_fit_fold = search_module.fit_fold

    def broken_boosting(spec, *args, **options):
        if spec.key == "gradient_boosting_classifier":
            raise ValueError("the trees caught fire")
        return real_fit_fold(spec, *args, **options)

    monkeypatch.setattr(search_module, "fit_fold", broken_boosting)
    result = search(raw_table(rows=100), plan(max_trials=4))
    boosting = [trial for trial in result.trials if trial.algorithm == "gradient_boosting_classifier"]
    assert boosting and all(trial.state == "failed" for trial in boosting)
    assert boosting[0].error == "Gradient boosting could not be trained: the trees caught fire"
    assert result.best.algorithm == "logistic_regression"
    assert len(result.trials) == 4


def test_big_tables_run_early_trials_on_subsamples(raw_table, monkeypatch):
    assert rung_sizes(26_048) == [2_894, 8_682, 26_048]
    assert rung_sizes(5_000) == [5_000]
    monkeypatch.setattr(search_module, "SUBSAMPLE_ABOVE_ROWS", 100)
    monkeypatch.setattr(search_module, "MIN_RUNG_ROWS", 50)
    table = raw_table(rows=240)  # 180 training rows: rungs of 60 and 180
    sizes = []
    real_fit_fold = search_module.fit_fold

    def spy(spec, params, chosen, x_fit, y_fit, x_score, y_score, **options):
        sizes.append(len(y_fit) + len(y_score))
        return real_fit_fold(spec, params, chosen, x_fit, y_fit, x_score, y_score, **options)

    monkeypatch.setattr(search_module, "fit_fold", spy)
    result = search(table, plan(max_trials=12))
    assert sizes[:3] == [60, 60, 60] and sizes[3:6] == [180, 180, 180]
    assert all(trial.rows == 180 for trial in result.trials if trial.state == "complete")
    assert any(trial.state == "pruned" and trial.rows == 60 for trial in result.trials)


def test_boosted_trees_stop_early_and_report_what_they_kept(raw_table, monkeypatch):
    monkeypatch.setattr(trialfit_module, "EARLY_STOPPING_MIN_ROWS", 100)
    the_plan = plan(
        algorithms=["gradient_boosting_classifier", "catboost_classifier"], max_trials=2, cv_folds=2
    )
    table = raw_table(rows=400)
    # Labels unrelated to the features: the validation loss stops improving at once.
    table["label"] = table["label"].sample(frac=1, random_state=0).to_numpy()
    result = search(table, the_plan)
    boosting, catboost = result.trials
    assert boosting.state == catboost.state == "complete"
    assert boosting.hyperparameters["max_iter"] < 100
    assert catboost.hyperparameters["iterations"] < 1000
    assert isinstance(catboost.hyperparameters["learning_rate"], float)
    for trial in result.trials:  # the winner is trained with exactly these
        assert validate_hyperparameters(trial.algorithm, trial.hyperparameters) == trial.hyperparameters


def test_the_support_vector_machine_is_left_out_on_big_tables(raw_table, monkeypatch):
    monkeypatch.setattr(search_module, "SVC_MAX_ROWS", 10)
    result = search(raw_table(rows=100), plan(algorithms=["logistic_regression", "svc"], max_trials=2))
    assert list(result.skipped_algorithms) == ["svc"]
    assert {trial.algorithm for trial in result.trials} == {"logistic_regression"}


def test_an_algorithm_whose_encoded_table_is_too_big_is_left_out(raw_table):
    """The bound on rows x one-hot columns that train_model applies (issue 13): the
    search leaves such an algorithm out and says why; CatBoost encodes nothing."""
    table = raw_table(rows=100)
    rows = load_rows(table, target="label", task="classification", features=None)
    native = len(rows.labels) * encoded_width(feature_counts(rows.features), native_categorical=True)
    one_hot = len(rows.labels) * encoded_width(feature_counts(rows.features), native_categorical=False)
    assert one_hot > native
    the_plan = plan(algorithms=["logistic_regression", "catboost_classifier"], max_trials=2)
    result = search(table, the_plan, max_encoded_cells=native)
    assert list(result.skipped_algorithms) == ["logistic_regression"]
    assert f"over the limit of {native:,}" in result.skipped_algorithms["logistic_regression"]
    assert {trial.algorithm for trial in result.trials} == {"catboost_classifier"}


def test_a_regression_search_minimises_rmse(raw_table):
    the_plan = plan(task="regression", algorithms=["ridge", "lasso"], max_trials=6)
    result = search(raw_table(rows=100, task="regression"), the_plan)
    assert result.metric == "rmse" and result.greater_is_better is False
    complete = [trial for trial in result.trials if trial.state == "complete"]
    assert result.best.cv_mean == min(trial.cv_mean for trial in complete)
    assert set(result.best.scores) == {"rmse", "mae", "r2"}


def test_too_many_folds_for_a_rare_class_is_refused_on_cv_folds(raw_table):
    table = raw_table(rows=100)
    table.loc[:7, "label"] = "rare"
    with pytest.raises(MLError) as caught:
        search(table, plan(cv_folds=10))
    assert "cv_folds" in caught.value.errors

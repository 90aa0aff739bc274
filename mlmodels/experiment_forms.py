"""Web forms of experiments. Like mlmodels.forms they check types and build the
arguments of the services the API calls (experiment_start, experiment_promote);
every rule — ranges, the target's task, the price — is the service's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse

from core.forms import IdempotentForm
from mlmodels import selectors
from mlmodels.ml import search_plan
from mlmodels.ml.crossval import GREATER_IS_BETTER, MAX_CV_FOLDS, METRICS, MIN_CV_FOLDS
from mlmodels.models import Dataset
from mlmodels.services.experiments import time_budget_limit

# How a metric is named on the pages; "lower" marks the ones where less is better.
METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "accuracy": "Accuracy",
    "f1": "F1",
    "log_loss": "Log loss",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _metric_choices() -> list:
    grouped = []
    for task, metrics in METRICS.items():
        options = []
        for position, metric in enumerate(metrics):
            label = metric_label(metric)
            if position == 0:
                label += " (the default)"
            if not GREATER_IS_BETTER.get(metric, True):
                label += " — lower is better"
            options.append((metric, label))
        grouped.append((task.capitalize(), options))
    return [("", "Automatic: ROC AUC for classes, RMSE for numbers"), *grouped]


class ExperimentForm(IdempotentForm):
    """dataset → target → algorithms → budget → advanced. The target's choices are the
    chosen dataset's columns; the page re-renders the fields (htmx) when the dataset
    changes, as the train form does."""

    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), empty_label="Choose a dataset…")
    target = forms.ChoiceField(
        label="Target column",
        choices=[],
        help_text=(
            "The column to predict. Text, yes/no and a few whole numbers are classes; "
            "other numbers are regression."
        ),
    )
    algorithms = forms.MultipleChoiceField(
        label="Algorithms to try",
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=(
            "Leave them all checked to try every algorithm that suits the target, "
            "or uncheck the ones not worth trying."
        ),
    )
    max_trials = forms.IntegerField(
        label="Trials at most",
        initial=search_plan.DEFAULT_MAX_TRIALS,
        help_text=(
            "Each trial is one algorithm with one set of hyperparameters "
            f"({search_plan.MIN_TRIALS}–{search_plan.MAX_TRIALS})."
        ),
        widget=forms.NumberInput(
            attrs={"min": search_plan.MIN_TRIALS, "max": search_plan.MAX_TRIALS, "step": 1}
        ),
    )
    time_budget_seconds = forms.IntegerField(
        label="Time budget (seconds)",
        initial=search_plan.DEFAULT_TIME_BUDGET_SECONDS,
        widget=forms.NumberInput(attrs={"min": search_plan.MIN_TIME_BUDGET_SECONDS, "step": 1}),
    )
    metric = forms.ChoiceField(label="Metric to optimise", required=False, choices=[])
    cv_folds = forms.IntegerField(
        label="Cross-validation folds",
        initial=search_plan.DEFAULT_CV_FOLDS,
        help_text=(
            f"Each trial is scored on {MIN_CV_FOLDS}–{MAX_CV_FOLDS} folds of the training part; "
            "the holdout is kept for the winner."
        ),
        widget=forms.NumberInput(attrs={"min": MIN_CV_FOLDS, "max": MAX_CV_FOLDS, "step": 1}),
    )
    random_state = forms.IntegerField(
        label="Random seed",
        required=False,
        help_text="Optional. The same seed, data and settings give the same leaderboard.",
        widget=forms.NumberInput(attrs={"min": 0, "step": 1}),
    )
    name = forms.CharField(
        label="Name of the winning model",
        max_length=100,
        required=False,
        help_text="Optional; defaults to “dataset · target”. The winner becomes a version of this name.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["dataset"].widget.attrs.update(
            {
                "hx-get": reverse("mlmodels:experiment-new"),
                "hx-trigger": "change",
                "hx-target": "#experiment-fields",
                "hx-swap": "outerHTML",
                "hx-include": "closest form",
            }
        )
        datasets = selectors.dataset_list_for_user(user=user).exclude(status=Dataset.Status.FAILED)
        self.fields["dataset"].queryset = datasets
        self.chosen_dataset = self._chosen_dataset(datasets)
        columns = self.chosen_dataset.columns if self.chosen_dataset is not None else []
        self.fields["target"].choices = [("", "Choose the target…")] + [
            (column["name"], f"{column['name']} ({column['kind']})") for column in columns
        ]

        self.algorithm_rows = list(selectors.algorithm_list(enabled_only=True).order_by("task", "name"))
        grouped: dict[str, list[tuple[str, str]]] = {}
        for algorithm in self.algorithm_rows:
            grouped.setdefault(algorithm.get_task_display(), []).append((algorithm.key, algorithm.name))
        self.fields["algorithms"].choices = list(grouped.items())
        if not self.is_bound and not self.initial.get("algorithms"):
            self.initial["algorithms"] = [algorithm.key for algorithm in self.algorithm_rows]

        self.fields["metric"].choices = _metric_choices()
        limit = time_budget_limit()
        budget = self.fields["time_budget_seconds"]
        budget.widget.attrs["max"] = limit
        budget.help_text = (
            "The search and the winner's training stop by then "
            f"({search_plan.MIN_TIME_BUDGET_SECONDS}–{limit} s)."
        )
        if limit < search_plan.DEFAULT_TIME_BUDGET_SECONDS:
            budget.initial = limit

    def _chosen_dataset(self, datasets) -> Dataset | None:
        if self.is_bound:
            value = self.data.get("dataset")
        else:
            value = self.initial.get("dataset")
            value = getattr(value, "pk", value)
        if value in (None, "") or not str(value).isdigit():
            return None
        return datasets.filter(pk=int(value)).first()

    @property
    def algorithm_groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The algorithm checkboxes by task, for the template's two columns."""
        widgets = {widget.data["value"]: widget for widget in self["algorithms"]}
        groups: dict[str, list] = {}
        for algorithm in self.algorithm_rows:
            groups.setdefault(algorithm.get_task_display(), []).append(widgets[algorithm.key])
        return list(groups.items())

    def clean_algorithms(self) -> list[str]:
        chosen = self.cleaned_data["algorithms"]
        if not chosen:
            raise forms.ValidationError("Check at least one algorithm (all checked: every one that fits).")
        return chosen

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        groups: dict[str, set[str]] = {}
        for algorithm in self.algorithm_rows:
            groups.setdefault(algorithm.task, set()).add(algorithm.key)
        return {
            "dataset": data["dataset"].pk,
            "target": data["target"],
            "algorithms": _algorithms_meant(list(data["algorithms"]), groups),
            "max_trials": data["max_trials"],
            "time_budget_seconds": data["time_budget_seconds"],
            "metric": data["metric"] or None,
            "cv_folds": data["cv_folds"],
            "random_state": data["random_state"],
            "name": data["name"] or None,
        }


def _algorithms_meant(chosen: list[str], groups: dict[str, set[str]]) -> list[str] | None:
    """The page lists both tasks' algorithms; one experiment has one task. All checked
    means every algorithm that suits the target (None, as the API's absent list). A
    group left whole beside one the user narrowed was not chosen: the narrowed one was."""
    picked = set(chosen)
    if all(keys <= picked for keys in groups.values()):
        return None
    narrowed = set().union(*(keys for keys in groups.values() if picked & keys and not keys <= picked))
    return [key for key in chosen if key in narrowed] if narrowed else chosen


class PromoteForm(IdempotentForm):
    """One leaderboard row's "Promote" button: the trial's number and a key of its own,
    so a double click trains (and charges) once."""

    trial = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

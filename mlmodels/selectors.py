"""Reads scoped to a user. Another user's object is always a 404 (Http404)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import FloatField, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import Http404
from django.shortcuts import get_object_or_404

from core.errors import Conflict, InvalidInput
from core.queries import CompiledQuery
from mlmodels.ml.crossval import GREATER_IS_BETTER
from mlmodels.models import Algorithm, Dataset, Experiment, ExperimentTrial, TrainedModel
from monitoring import selectors as monitoring_selectors
from monitoring.selectors import DriftReport


def dataset_list_for_user(*, user) -> QuerySet[Dataset]:
    return Dataset.objects.filter(owner=user)


def dataset_get_for_user(*, user, pk) -> Dataset:
    return get_object_or_404(Dataset, pk=pk, owner=user)


def algorithm_list(*, enabled_only: bool = False) -> QuerySet[Algorithm]:
    algorithms = Algorithm.objects.filter(in_catalog=True)
    return algorithms.filter(enabled=True) if enabled_only else algorithms


def _visible_to(owner_id) -> Q:
    # Yours (any status), or published by anyone: ready, active and public.
    return Q(owner_id=owner_id) | Q(is_public=True, is_active=True, status=TrainedModel.Status.READY)


@dataclass(frozen=True)
class MetricSort:
    """A holdout metric models can be sorted by: its task, its label and which way is
    better. Sorting by one keeps only ready models of its task, so accuracy and R²
    never share a column."""

    key: str
    label: str
    task: str
    higher_is_better: bool


METRIC_SORTS = {
    sort.key: sort
    for sort in (
        MetricSort("accuracy", "Accuracy (classification)", "classification", True),
        MetricSort("f1", "F1 (classification)", "classification", True),
        MetricSort("roc_auc", "ROC AUC (classification)", "classification", True),
        MetricSort("r2", "R² (regression)", "regression", True),
        MetricSort("mae", "MAE (regression)", "regression", False),
        MetricSort("rmse", "RMSE (regression)", "regression", False),
    )
}


def model_list_for_user(
    *,
    user,
    mine: bool = False,
    status: str | None = None,
    algorithm: str | None = None,
    dataset: int | None = None,
    target: str | None = None,
    sort: str | None = None,
) -> QuerySet[TrainedModel]:
    """The caller's models (any status) and the public catalog, newest first;
    ``mine`` keeps only the caller's. Optional filters by status, algorithm key,
    dataset id and target column; ``sort`` (a key of ``METRIC_SORTS``) keeps the
    ready models of that metric's task, best first (an unknown key: ValueError)."""
    models = TrainedModel.objects.filter(deleted_at__isnull=True).select_related("algorithm", "owner")
    if not getattr(user, "is_authenticated", False):
        return models.none()
    models = models.filter(owner=user) if mine else models.filter(_visible_to(user.pk))
    if status:
        models = models.filter(status=status)
    if algorithm:
        models = models.filter(algorithm__key=algorithm)
    if dataset:
        models = models.filter(dataset_id=dataset)
    if target:
        models = models.filter(target=target)
    if sort:
        metric = METRIC_SORTS[sort]
        # ->> and a cast: a JSON null or a missing key sorts last, a number as a number.
        value = Cast(KeyTextTransform(metric.key, "metrics"), FloatField())
        order = value.desc(nulls_last=True) if metric.higher_is_better else value.asc(nulls_last=True)
        models = models.filter(status=TrainedModel.Status.READY, task=metric.task).order_by(order, "-pk")
    return models


def model_filter_choices(*, user) -> tuple[list[tuple[int, str]], list[str]]:
    """The datasets (id, name) and the targets of the models ``user`` may see, for the
    model list's filters."""
    visible = model_list_for_user(user=user).order_by()
    datasets = sorted(
        set(visible.filter(dataset__isnull=False).values_list("dataset_id", "dataset_name")),
        key=lambda pair: (pair[1].lower(), pair[0]),
    )
    targets = sorted(set(visible.values_list("target", flat=True)), key=str.lower)
    return datasets, targets


# At most this many models side by side: beyond it the columns no longer fit a screen.
MAX_COMPARED_MODELS = 6


def models_to_compare(*, user, ids: list[int]) -> list[TrainedModel]:
    """Ready models the user may see, of one dataset and one target, in the order
    asked; raises ``InvalidInput`` (``models``) when they cannot be compared."""
    ids = list(dict.fromkeys(ids))
    if len(ids) < 2:
        raise InvalidInput("Pick at least two models to compare.", {"models": ["Pick at least two models."]})
    if len(ids) > MAX_COMPARED_MODELS:
        message = f"At most {MAX_COMPARED_MODELS} models can be compared at once."
        raise InvalidInput(message, {"models": [message]})
    found = {model.pk: model for model in model_list_for_user(user=user).filter(pk__in=ids)}
    if len(found) < len(ids):
        raise Http404("No such model.")
    models = [found[pk] for pk in ids]
    if any(model.status != TrainedModel.Status.READY for model in models):
        message = "Only ready models can be compared: a model still training or failed has no metrics."
        raise InvalidInput(message, {"models": [message]})
    if len({(model.dataset_id, model.target) for model in models}) > 1 or models[0].dataset_id is None:
        message = (
            "Compare models of the same dataset and target: their holdout scores measure different things."
        )
        raise InvalidInput(message, {"models": [message]})
    return models


# What scoring never reads of a model: its evaluation and the owner's texts, often
# kilobytes of JSON each, left out of the reads on a prediction's path (submit, worker).
NOT_READ_TO_PREDICT = (
    "metrics",
    "timings",
    "warnings",
    "library_versions",
    "model_card",
    "description",
    "import_sample",
    "requested_features",
    "hyperparameters",
)


def model_get_for_user(*, user, pk) -> TrainedModel:
    """A model the user may see: their own, or one in the public catalog. Staff may
    see any model that is not deleted."""
    if getattr(user, "is_staff", False):
        models = TrainedModel.objects.filter(deleted_at__isnull=True).select_related("algorithm", "owner")
        return get_object_or_404(models, pk=pk)
    return get_object_or_404(model_list_for_user(user=user), pk=pk)


# The lookup of every prediction's submission, compiled once (core.queries): the same
# rule as model_get_for_user, without NOT_READ_TO_PREDICT, algorithm and owner.
_TO_PREDICT = CompiledQuery(
    lambda owner_id, pk: TrainedModel.objects.filter(
        _visible_to(owner_id), deleted_at__isnull=True, pk=pk
    ).defer(*NOT_READ_TO_PREDICT),
    "owner_id",
    "pk",
)
_TO_PREDICT_STAFF = CompiledQuery(
    lambda pk: TrainedModel.objects.filter(deleted_at__isnull=True, pk=pk).defer(*NOT_READ_TO_PREDICT), "pk"
)


def model_to_predict_for_user(*, user, pk: int) -> TrainedModel:
    """model_get_for_user for a prediction: Http404 for a model the user may not see."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    if getattr(user, "is_staff", False):
        found = _TO_PREDICT_STAFF.instances(TrainedModel, pk=pk)
    else:
        found = _TO_PREDICT.instances(TrainedModel, owner_id=user.pk, pk=pk)
    if not found:
        raise Http404("No TrainedModel matches the given query.")
    return found[0]


def model_get_owned(*, user, pk) -> TrainedModel:
    """A model the user may change: their own (staff may change any)."""
    models = TrainedModel.objects.filter(deleted_at__isnull=True).select_related("algorithm", "owner")
    if not user.is_staff:
        models = models.filter(owner=user)
    return get_object_or_404(models, pk=pk)


def model_prediction_refusal(*, user, model: TrainedModel) -> str | None:
    """Why ``user`` cannot predict with ``model`` (one they may see) right now, or None.
    Its owner may predict with any ready version; anyone else only with the active one
    (the public catalog lists active versions only)."""
    if model.status != TrainedModel.Status.READY or not model.feature_schema or not model.artifact:
        message = f"Model {model} is {model.status}; only a ready model can make predictions."
        if model.status in (TrainedModel.Status.QUEUED, TrainedModel.Status.RUNNING):
            message += " Wait until its training finishes."
        return message
    if not model.is_active and model.owner_id != user.pk:
        return f"Model {model} is not the active version of {model.name}; predict with the active version."
    return None


def model_drift(*, model: TrainedModel) -> DriftReport:
    """The drift report of a model the caller may change (model_get_owned decides who):
    Conflict until it is ready."""
    if model.status != TrainedModel.Status.READY or not model.feature_schema:
        raise Conflict(f"Model {model} is {model.status}; only a ready model has drift figures.")
    schema = model.feature_schema
    return monitoring_selectors.model_drift(
        model_id=model.pk, task=schema.get("task", ""), classes=schema.get("classes")
    )


def model_versions(*, model: TrainedModel, user) -> QuerySet[TrainedModel]:
    """The other versions of ``model``'s name that ``user`` may see, newest first."""
    versions = TrainedModel.objects.filter(
        owner_id=model.owner_id, name=model.name, deleted_at__isnull=True
    ).select_related("algorithm")
    if not (user.is_staff or user.pk == model.owner_id):
        versions = versions.filter(is_public=True, is_active=True, status=TrainedModel.Status.READY)
    return versions.order_by("-version")


# --- Experiments ---------------------------------------------------------------------------


def experiment_list_for_user(*, user) -> QuerySet[Experiment]:
    return Experiment.objects.filter(owner=user).select_related("best_model")


def experiment_get_for_user(*, user, pk) -> Experiment:
    """One of the user's own experiments (staff included: an experiment is private)."""
    return get_object_or_404(experiment_list_for_user(user=user), pk=pk)


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    trial: ExperimentTrial


def leaderboard(experiment: Experiment) -> list[LeaderboardRow]:
    """Every trial, best first: complete trials by their cross-validated score (ties:
    the earlier trial), then pruned and failed ones in the order they ran."""
    trials = list(experiment.trials.all())
    higher_is_better = GREATER_IS_BETTER[experiment.metric]
    complete = sorted(
        (
            trial
            for trial in trials
            if trial.state == ExperimentTrial.State.COMPLETE and trial.cv_mean is not None
        ),
        key=lambda trial: (-trial.cv_mean if higher_is_better else trial.cv_mean, trial.number),
    )
    rest = [trial for trial in trials if trial not in complete]
    return [LeaderboardRow(rank, trial) for rank, trial in enumerate(complete + rest, start=1)]


def experiment_refunded(experiment: Experiment) -> Decimal:
    """Coins given back for the trials not run (0 while it runs)."""
    refunded = experiment.ledger_entries.filter(kind="refund").values_list("amount", flat=True).first()
    return refunded or Decimal("0.00")


# --- The public catalog and model cards ----------------------------------------------------


def public_model_list() -> QuerySet[TrainedModel]:
    """Published models anyone may try (ready, active, public), classifiers first:
    what a visitor's preview and a new user's dashboard offer."""
    return (
        TrainedModel.objects.filter(
            deleted_at__isnull=True, is_public=True, is_active=True, status=TrainedModel.Status.READY
        )
        .select_related("algorithm", "owner", "dataset")
        .order_by("task", "name", "-version")
    )


def _example_value(column: dict[str, Any]) -> Any:
    """A typical value of a profiled column: the median of a number (a whole number
    when the column holds whole numbers), the most frequent value otherwise."""
    if column.get("kind") == "numeric":
        median = column.get("median")
        if median is None:
            return None
        quartiles = [column.get(key) for key in ("min", "q25", "max")]
        if all(value is not None and float(value).is_integer() for value in quartiles):
            return int(round(median))
        return float(f"{median:.4g}")
    top = column.get("top") or []
    return top[0]["value"] if top else None


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


@dataclass(frozen=True)
class ModelInput:
    name: str
    kind: str
    meaning: str
    example: Any
    known_values: list[str]
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ModelCard:
    """What a model page says before any metric: what it predicts, what each input
    means, and an example row from its training data."""

    summary: str
    inputs: list[ModelInput]

    @property
    def example(self) -> dict[str, Any]:
        return {item.name: item.example for item in self.inputs if item.example is not None}


def model_card(*, model: TrainedModel) -> ModelCard:
    """The card of a ready model, from its feature schema (its example row and ranges)
    and its dataset's columns (their meanings); a deleted dataset leaves the meanings
    out."""
    dataset = model.dataset
    described = {
        column["name"]: column.get("description", "") for column in (dataset.columns if dataset else [])
    }
    profiled = {
        column["name"]: column for column in ((dataset.profile or {}).get("columns", []) if dataset else [])
    }
    inputs = []
    for feature in model.features:
        column = profiled.get(feature["name"], {})
        numeric = feature["kind"] == "numeric"
        inputs.append(
            ModelInput(
                name=feature["name"],
                kind=feature["kind"],
                meaning=described.get(feature["name"], ""),
                # The schema's example and range (kept at training time) come first;
                # models trained before they were kept fall back on the profile.
                example=_first(feature.get("example"), _example_value(column) if column else None),
                known_values=list(feature.get("categories") or []),
                low=_first(feature.get("minimum"), column.get("min")) if numeric else None,
                high=_first(feature.get("maximum"), column.get("max")) if numeric else None,
            )
        )
    target_meaning = described.get(model.target, "")
    if model.task == "classification" and model.classes:
        answer = (
            f"one of {len(model.classes)} classes ({', '.join(str(label) for label in model.classes[:5])}"
        )
        answer += ", …)" if len(model.classes) > 5 else ")"
    else:
        answer = "a number"
    summary = (
        f"Predicts {model.target} — {answer} — from {len(inputs)} input column{'s' if len(inputs) != 1 else ''}"
        f" of {model.dataset_name or 'its training data'}."
    )
    if target_meaning:
        summary += f" {model.target}: {target_meaning}"
    return ModelCard(summary=summary, inputs=inputs)

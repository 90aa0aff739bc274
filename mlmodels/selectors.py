"""Reads scoped to a user. Another user's object is always a 404 (Http404)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from mlmodels.ml.crossval import GREATER_IS_BETTER
from mlmodels.models import Algorithm, Dataset, Experiment, ExperimentTrial, TrainedModel


def dataset_list_for_user(*, user) -> QuerySet[Dataset]:
    return Dataset.objects.filter(owner=user)


def dataset_get_for_user(*, user, pk) -> Dataset:
    return get_object_or_404(Dataset, pk=pk, owner=user)


def algorithm_list(*, enabled_only: bool = False) -> QuerySet[Algorithm]:
    algorithms = Algorithm.objects.filter(in_catalog=True)
    return algorithms.filter(enabled=True) if enabled_only else algorithms


def _visible_to(user) -> Q:
    # Yours (any status), or published by anyone: ready, active and public.
    return Q(owner=user) | Q(is_public=True, is_active=True, status=TrainedModel.Status.READY)


def model_list_for_user(
    *,
    user,
    mine: bool = False,
    status: str | None = None,
    algorithm: str | None = None,
) -> QuerySet[TrainedModel]:
    """The caller's models (any status) and the public catalog, newest first;
    ``mine`` keeps only the caller's. Optional filters by status and algorithm key."""
    models = TrainedModel.objects.filter(deleted_at__isnull=True).select_related("algorithm", "owner")
    if not getattr(user, "is_authenticated", False):
        return models.none()
    models = models.filter(owner=user) if mine else models.filter(_visible_to(user))
    if status:
        models = models.filter(status=status)
    if algorithm:
        models = models.filter(algorithm__key=algorithm)
    return models


def model_get_for_user(*, user, pk) -> TrainedModel:
    """A model the user may see: their own, or one in the public catalog. Staff may
    see any model that is not deleted."""
    if getattr(user, "is_staff", False):
        models = TrainedModel.objects.filter(deleted_at__isnull=True).select_related("algorithm", "owner")
        return get_object_or_404(models, pk=pk)
    return get_object_or_404(model_list_for_user(user=user), pk=pk)


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

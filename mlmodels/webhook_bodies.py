"""Webhook bodies of trainings and experiments: the object ``GET models/{id}/`` and
``GET experiments/{id}/`` answer (the same serializers; without a request, links are
paths)."""

from __future__ import annotations

from typing import Any

from mlmodels.experiment_serializers import ExperimentSerializer
from mlmodels.models import Experiment, TrainedModel
from mlmodels.serializers import TrainedModelSerializer
from webhooks.models import Resource
from webhooks.registry import register_resource


def model_webhook_body(model_id: int) -> dict[str, Any]:
    return TrainedModelSerializer(
        TrainedModel.objects.select_related("algorithm", "owner").get(pk=model_id)
    ).data


def experiment_webhook_body(experiment_id: int) -> dict[str, Any]:
    return ExperimentSerializer(Experiment.objects.select_related("best_model").get(pk=experiment_id)).data


def register() -> None:
    register_resource(Resource.MODEL, model_webhook_body)
    register_resource(Resource.EXPERIMENT, experiment_webhook_body)

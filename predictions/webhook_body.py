"""A prediction's webhook body: the prediction as ``GET predictions/{id}/`` answers it
(the same serializer; without a request its ``download_url`` is a path)."""

from __future__ import annotations

from typing import Any

from predictions.models import Prediction
from predictions.serializers import PredictionSerializer
from webhooks.models import Resource
from webhooks.registry import register_resource


def prediction_webhook_body(prediction_id: int) -> dict[str, Any]:
    return PredictionSerializer(Prediction.objects.select_related("model").get(pk=prediction_id)).data


def register() -> None:
    register_resource(Resource.PREDICTION, prediction_webhook_body)

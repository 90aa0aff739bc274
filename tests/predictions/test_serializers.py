"""PredictionSerializer writes its answer out by hand (it is on every one-row
prediction's path): the answer must be exactly what DRF's generic rendering of the
declared fields gives, for predictions in every state, listed or alone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from predictions import services, tasks
from predictions.models import Prediction
from predictions.serializers import PredictionListSerializer, PredictionSerializer


def generic(serializer_class, prediction, context):
    serializer = serializer_class(prediction, context=context)
    return serializers.ModelSerializer.to_representation(serializer, prediction)


def predictions_in_every_state(alice, classifier, row) -> list[Prediction]:
    def submit(inputs):
        return services.prediction_submit(user=alice, model_id=classifier.pk, inputs=inputs).prediction

    queued = submit([row])
    succeeded = submit([row, {**row, "age": 20}])
    tasks.run_prediction(succeeded.pk)
    failed = submit([row])
    Prediction.objects.filter(pk=failed.pk).update(
        status=Prediction.Status.FAILED, error="Scoring failed.", finished_at=timezone.now()
    )
    expired = submit([row])
    tasks.run_prediction(expired.pk)
    Prediction.objects.filter(pk=expired.pk).update(
        files_deleted_at=timezone.now(), input_filename="rows.csv", scoring_seconds=0.0
    )
    priced = submit([row])
    Prediction.objects.filter(pk=priced.pk).update(
        price_per_row=Decimal("0.0125"), price_per_request=Decimal("3"), cost=Decimal("3.02")
    )
    ids = [queued.pk, succeeded.pk, failed.pk, expired.pk, priced.pk]
    return list(Prediction.objects.select_related("model").filter(pk__in=ids).order_by("pk"))


@pytest.mark.parametrize("with_request", [True, False])
@pytest.mark.parametrize("serializer_class", [PredictionSerializer, PredictionListSerializer])
def test_the_written_out_answer_is_drfs_own(alice, classifier, row, serializer_class, with_request):
    tasks.cache_clear()
    context = {"request": APIRequestFactory().get("/api/v1/predictions/")} if with_request else {}
    predictions = predictions_in_every_state(alice, classifier, row)
    assert {prediction.status for prediction in predictions} == {"queued", "succeeded", "failed"}

    for prediction in predictions:
        answer = serializer_class(prediction, context=context).data
        assert answer == generic(serializer_class, prediction, context)
        assert list(answer) == list(serializer_class.Meta.fields)
    listed = serializer_class(predictions, many=True, context=context).data
    assert listed == [generic(serializer_class, prediction, context) for prediction in predictions]

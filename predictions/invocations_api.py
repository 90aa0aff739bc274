"""POST /api/v1/models/{id}/invocations: MLflow's scoring protocol in front of an ordinary
prediction. A client written for ``mlflow models serve`` works by changing its URL and
adding the token.

The body is one of MLflow's input shapes (``mlmodels.ml.mlflow_inputs``); it becomes JSON
rows for ``predictions.services.prediction_submit`` — checked before anything is charged,
charged, queued, in the history and the ledger like any prediction — and the request
waits for it (``Prefer: wait`` is implied: INVOCATIONS_WAIT_SECONDS, or the client's
own ``Prefer: wait=N``). The answer is MLflow's: ``{"predictions": [...]}``, one value per
row, or with ``params: {"predict_method": "predict_proba"}`` one list of probabilities per
row in the order of the model's ``classes``. Errors keep the service's shape and add
MLflow's ``error_code`` and ``message``.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import exception_handler
from core.errors import InvalidInput, PayloadTooLarge, ServiceError
from core.jobs.waiting import parse_prefer_wait, wait_for_submission
from core.openapi import ERROR_RESPONSES, IDEMPOTENCY_HEADER, PREFER_HEADER
from mlmodels.ml.errors import InputError, TooManyRowsError
from mlmodels.ml.mlflow_inputs import SHAPES, records_from_csv, request_from_json
from mlmodels.ml.mlflow_pyfunc import PREDICT_METHOD, PREDICT_METHODS
from mlmodels.ml.schema import FeatureSchema
from predictions import services
from predictions.jobs import PREDICTION
from predictions.models import Prediction

# MLflow's names for the statuses its clients may see (mlflow.protos.databricks_pb2).
MLFLOW_ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    402: "RESOURCE_EXHAUSTED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_CONFLICT",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


class UnsupportedMediaType(ServiceError):
    status_code = 415


class PredictionFailed(ServiceError):
    status_code = 500


def mlflow_exception_handler(exc: Exception, context: dict) -> Response | None:
    """The service's error answer, plus MLflow's ``error_code`` and ``message``."""
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data["error_code"] = MLFLOW_ERROR_CODES.get(response.status_code, "BAD_REQUEST")
        response.data["message"] = response.data["detail"]
    return response


def _input_error(error: InputError) -> ServiceError:
    if isinstance(error, TooManyRowsError):
        return PayloadTooLarge(error.message, error.errors)
    return InvalidInput(error.message, error.errors)


def _predict_method(params: dict[str, Any], schema: FeatureSchema) -> str:
    unknown = sorted(set(params) - {PREDICT_METHOD})
    if unknown:
        message = f"unknown params: {', '.join(unknown)}; the one param is {PREDICT_METHOD}"
        raise InvalidInput(message, {"params": [message]})
    method = params.get(PREDICT_METHOD) or "predict"
    if method not in PREDICT_METHODS:
        message = f"{PREDICT_METHOD} must be one of {', '.join(PREDICT_METHODS)}"
        raise InvalidInput(message, {f"params.{PREDICT_METHOD}": [message]})
    if method == "predict_proba" and schema.task != "classification":
        message = "predict_proba is only for classifiers; this model is a regressor"
        raise InvalidInput(message, {f"params.{PREDICT_METHOD}": [message]})
    return method


def _records(request, schema: FeatureSchema) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    limit = settings.PREDICTION_INLINE_ROWS
    try:
        if media_type == "text/csv":
            return records_from_csv(request.body, max_rows=limit), {}
        if media_type == "application/json":
            try:
                body = json.loads(request.body or b"null")
            except (ValueError, RecursionError) as error:
                message = f"the body is not valid JSON ({type(error).__name__})"
                raise InvalidInput(f"JSON parse error: {message}.", {"non_field_errors": [message]}) from None
            scoring = request_from_json(body, feature_names=schema.feature_names)
            if isinstance(scoring.records, list) and len(scoring.records) > limit:
                message = (
                    f"the input has {len(scoring.records):,} rows; invocations answer up to {limit:,} "
                    "(send more as a CSV file to POST predictions/)"
                )
                raise PayloadTooLarge(f"Too many rows: {message}.", {"inputs": [message]})
            return scoring.records, scoring.params
    except InputError as error:
        raise _input_error(error) from None
    shapes = ", ".join(SHAPES)
    raise UnsupportedMediaType(
        f"Content-Type {media_type or 'missing'} is not supported: send application/json "
        f"({shapes}) or text/csv.",
        {"Content-Type": ["Use application/json or text/csv."]},
    )


def _answer(prediction: Prediction, schema: FeatureSchema, method: str) -> dict[str, Any]:
    results = prediction.results or []
    if method == "predict_proba":
        names = [str(value) for value in schema.classes or []]
        return {"predictions": [[row["probabilities"][name] for name in names] for row in results]}
    return {"predictions": [row["prediction"] for row in results]}


INVOCATIONS_BODY = inline_serializer(
    name="MlflowScoringRequest",
    fields={
        "dataframe_split": serializers.JSONField(required=False),
        "dataframe_records": serializers.JSONField(required=False),
        "instances": serializers.JSONField(required=False),
        "inputs": serializers.JSONField(required=False),
        "params": serializers.JSONField(required=False, help_text='{"predict_method": "predict_proba"}'),
    },
)
INVOCATIONS_ANSWER = inline_serializer(
    name="MlflowScoringAnswer", fields={"predictions": serializers.ListField(child=serializers.JSONField())}
)


class InvocationsView(APIView):
    def get_exception_handler(self):
        return mlflow_exception_handler

    @extend_schema(
        operation_id="models_invocations",
        summary="Predict with MLflow's scoring protocol",
        request={"application/json": INVOCATIONS_BODY, "text/csv": OpenApiTypes.STR},
        parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
        responses={
            200: OpenApiResponse(INVOCATIONS_ANSWER, description="Scored, charged, in the history."),
            202: OpenApiResponse(
                description="Still scoring after the wait: `id`, `status`; poll `Location` (predictions/{id}/)."
            ),
            413: OpenApiResponse(description="More rows than PREDICTION_INLINE_ROWS."),
            415: OpenApiResponse(description="Neither application/json nor text/csv."),
            **ERROR_RESPONSES,
        },
        examples=[
            OpenApiExample(
                "dataframe_split",
                value={"dataframe_split": {"columns": ["x", "color"], "data": [[1.5, "red"]]}},
                request_only=True,
            )
        ],
    )
    def post(self, request, pk: int):
        """The rows of any MLflow input shape (``dataframe_split``, ``dataframe_records``,
        ``instances``, ``inputs``, or a ``text/csv`` body), up to PREDICTION_INLINE_ROWS
        rows; rows without column names follow the feature schema's order. Checked
        before any charge (400, 413, 415 cost nothing), then charged and scored like
        ``POST predictions/``. ``Idempotency-Key`` works as there."""
        header = request.headers.get("Prefer")
        wait = parse_prefer_wait(header) if header else settings.INVOCATIONS_WAIT_SECONDS
        model = services.prediction_model(user=request.user, model_id=pk)
        schema = FeatureSchema.from_dict(model.feature_schema)
        records, params = _records(request, schema)
        method = _predict_method(params, schema)
        submission = services.prediction_submit(
            user=request.user,
            model_id=model.pk,
            model=model,
            inputs=records,
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        prediction = submission.prediction
        if not prediction.is_finished:
            wait_for_submission(
                PREDICTION, prediction.pk, wait=wait, user_id=request.user.pk, replayed=submission.replayed
            )
            prediction = Prediction.objects.get(pk=prediction.pk)
        headers = {"Location": reverse("prediction-detail", args=[prediction.pk])}
        if submission.replayed:
            headers["Idempotent-Replayed"] = "true"
        if prediction.status == Prediction.Status.SUCCEEDED:
            return Response(_answer(prediction, schema, method), headers=headers)
        if prediction.status in (Prediction.Status.FAILED, Prediction.Status.CANCELED):
            raise PredictionFailed(
                f"Prediction #{prediction.pk} {prediction.status}: {prediction.error}",
                prediction=prediction.pk,
            )
        body = {
            "id": prediction.pk,
            "status": prediction.status,
            "detail": "Still scoring; the answer is at Location (predictions/{id}/) when it is done.",
        }
        return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


class InvocationsSlashView(InvocationsView):
    """The same, at ``invocations/``; documented once, without the slash."""

    schema = None

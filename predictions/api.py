"""/api/v1/predictions/: submit (JSON rows or a CSV file), list, detail, download the
result CSV, cancel. Thin: parse, call one service or selector, render."""

from __future__ import annotations

import json

from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from core.errors import InvalidInput
from core.jobs.waiting import parse_prefer_wait, wait_for_submission
from core.openapi import ERROR_RESPONSES, IDEMPOTENCY_HEADER, PREFER_HEADER, ErrorSerializer
from core.parsers import JSONParser
from predictions import selectors, services
from predictions.jobs import PREDICTION
from predictions.models import Prediction
from predictions.serializers import (
    PredictionCreateSerializer,
    PredictionListSerializer,
    PredictionSerializer,
)
from predictions.uploads import PredictionUploadHandler
from webhooks.api import deliveries_answer
from webhooks.models import Resource
from webhooks.selectors import webhook_deliveries_for_job
from webhooks.serializers import WebhookDeliverySerializer

WRONG_BODY = (
    "Send JSON (Content-Type: application/json) with model and inputs, "
    "or multipart/form-data with model and file (a CSV)."
)


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: text/csv`` on the download; the file itself is a
    FileResponse, so this only ever renders an error body (as JSON text)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return json.dumps(data).encode()


def csv_attachment(prediction: Prediction) -> HttpResponse:
    """The result CSV streamed from storage, or a redirect to a presigned URL of it
    (STORAGE_PRESIGNED_DOWNLOADS, S3)."""
    filename, content_type = f"prediction-{prediction.pk}.csv", "text/csv; charset=utf-8"
    url = selectors.prediction_result_url(prediction=prediction, filename=filename, content_type=content_type)
    if url is not None:
        return HttpResponseRedirect(url)
    return FileResponse(
        selectors.prediction_result_open(prediction=prediction),
        as_attachment=True,
        filename=filename,
        content_type=content_type,
    )


@extend_schema_view(
    list=extend_schema(
        summary="Your predictions, newest first (without their inline results)",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=Prediction.Status.values),
            OpenApiParameter("model", OpenApiTypes.INT, description="Only predictions of this model."),
        ],
        responses={200: PredictionListSerializer(many=True), **ERROR_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="One prediction: status, progress, cost and its results",
        responses={200: PredictionSerializer, **ERROR_RESPONSES},
    ),
)
class PredictionViewSet(viewsets.GenericViewSet):
    serializer_class = PredictionSerializer
    lookup_value_regex = "[0-9]+"  # ids are digits; other text is a 404, not a 500
    max_body_setting = "PREDICTION_MAX_BYTES"  # core.middleware refuses more by Content-Length
    parser_classes = [JSONParser, MultiPartParser]
    queryset = Prediction.objects.none()  # for the schema; reads go through selectors

    def initialize_request(self, request, *args, **kwargs):
        drf_request = super().initialize_request(request, *args, **kwargs)
        if self.action == "create":
            # Before anything reads the body (the CSRF check of a session may): the CSV
            # streams straight to storage instead of a temporary file.
            self.upload_handler = PredictionUploadHandler(request)
            request.upload_handlers = [self.upload_handler]
        return drf_request

    def get_queryset(self):
        return selectors.prediction_list_for_user(user=self.request.user)

    def _render(self, prediction: Prediction, *, status_code: int = status.HTTP_200_OK, **kwargs) -> Response:
        data = PredictionSerializer(prediction, context={"request": self.request}).data
        return Response(data, status=status_code, **kwargs)

    @extend_schema(
        summary="Predict one row, a list of rows or a CSV file",
        request={
            "application/json": PredictionCreateSerializer,
            "multipart/form-data": PredictionCreateSerializer,
        },
        parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
        responses={
            201: OpenApiResponse(PredictionSerializer, description="Finished within Prefer: wait=N."),
            202: OpenApiResponse(PredictionSerializer, description="Accepted and charged; scoring."),
            413: OpenApiResponse(ErrorSerializer, description="Too many rows or too large a file."),
            **ERROR_RESPONSES,
        },
    )
    def create(self, request):
        wait = parse_prefer_wait(request.headers.get("Prefer"))
        try:
            try:
                data = request.data
            except (UnsupportedMediaType, ParseError) as error:
                raise InvalidInput(
                    f"{error.detail} {WRONG_BODY}", {"non_field_errors": [WRONG_BODY]}
                ) from None
            if self.upload_handler.skipped_fields:
                names = sorted(set(self.upload_handler.skipped_fields))
                raise InvalidInput(
                    "Unexpected file fields: " + ", ".join(names) + ". Send one CSV as file.",
                    {name: ["Unknown field; send the CSV as file."] for name in names},
                )
            serializer = PredictionCreateSerializer(data=data)
            serializer.is_valid(raise_exception=True)
            submission = services.prediction_submit(
                user=request.user,
                model_id=serializer.validated_data["model"],
                inputs=serializer.validated_data.get("inputs"),
                upload=serializer.validated_data.get("file"),
                idempotency_key=request.headers.get("Idempotency-Key"),
                webhook=serializer.validated_data.get("webhook"),
                webhook_events=serializer.validated_data.get("webhook_events"),
            )
            self.upload_handler.adopted = submission.prediction.input_file.name or ""
        finally:
            self.upload_handler.discard_unclaimed()

        prediction = submission.prediction
        if not prediction.is_finished and wait_for_submission(
            PREDICTION, prediction.pk, wait=wait, user_id=request.user.pk, replayed=submission.replayed
        ):
            # The model was read at submit; only the job has changed.
            model, prediction = prediction.model, Prediction.objects.get(pk=prediction.pk)
            prediction.model = model
        finished = wait is not None and prediction.is_finished
        headers = {"Location": reverse("prediction-detail", args=[prediction.pk])}
        if submission.replayed:
            headers["Idempotent-Replayed"] = "true"
        return self._render(
            prediction,
            status_code=status.HTTP_201_CREATED if finished else status.HTTP_202_ACCEPTED,
            headers=headers,
        )

    def list(self, request):
        predictions = selectors.prediction_filtered_list_for_user(
            user=request.user,
            status=request.query_params.get("status"),
            model=request.query_params.get("model"),
        )
        page = self.paginate_queryset(predictions)
        data = PredictionListSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    def retrieve(self, request, pk=None):
        return self._render(selectors.prediction_get_for_user(user=request.user, pk=pk))

    @extend_schema(
        summary="Download the results as CSV",
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The input columns, prediction and probability_<class> columns.",
            ),
            **ERROR_RESPONSES,
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CsvRenderer])
    def download(self, request, pk=None):
        prediction = selectors.prediction_get_for_user(user=request.user, pk=pk)
        return csv_attachment(prediction)

    @extend_schema(
        summary="Cancel a queued prediction (refunded)",
        request=None,
        responses={200: PredictionSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        prediction = selectors.prediction_get_for_user(user=request.user, pk=pk)
        return self._render(services.prediction_cancel(user=request.user, prediction=prediction))

    @extend_schema(
        summary="The webhook deliveries of a prediction, each with its attempts",
        responses={200: WebhookDeliverySerializer(many=True), **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        prediction = selectors.prediction_get_for_user(user=request.user, pk=pk)
        return deliveries_answer(
            webhook_deliveries_for_job(user=request.user, resource=Resource.PREDICTION, job_id=prediction.pk)
        )

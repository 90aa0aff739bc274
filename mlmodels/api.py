"""The datasets, algorithms and models API (API.md). Viewsets parse, call one service
or selector and render; errors are domain exceptions turned into the one JSON shape
by core.api.exception_handler."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import Conflict, InvalidInput
from core.jobs.waiting import parse_prefer_wait, wait_for_submission
from core.openapi import ERROR_RESPONSES, IDEMPOTENCY_HEADER, PREFER_HEADER
from core.parsers import JSONParser
from mlmodels import selectors, services
from mlmodels.jobs import TRAINING
from mlmodels.models import Dataset, TrainedModel
from mlmodels.serializers import (
    AlgorithmSerializer,
    DatasetProfileSerializer,
    DatasetSerializer,
    DatasetUploadSerializer,
    ModelImportSerializer,
    ModelUpdateSerializer,
    TrainedModelSerializer,
    TrainedModelSummarySerializer,
    TrainRequestSerializer,
)
from mlmodels.services.datasets import too_large_error
from monitoring.serializers import DriftSerializer
from webhooks.api import deliveries_answer
from webhooks.models import Resource
from webhooks.selectors import webhook_deliveries_for_job
from webhooks.serializers import WebhookDeliverySerializer

# Multipart framing around the file: a request this much bigger than the file limit
# is refused from its Content-Length before the body is read.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def refuse_oversized_upload(request) -> None:
    """413 before reading the body when Content-Length already says it is too big, so
    a huge upload is not spooled to disk only to be refused."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    limit = settings.DATASET_MAX_BYTES
    if length > limit + MULTIPART_OVERHEAD_BYTES:
        raise too_large_error(length, limit)


@extend_schema_view(
    list=extend_schema(
        summary="Algorithms and their hyperparameter schemas",
        responses={200: AlgorithmSerializer(many=True), **ERROR_RESPONSES},
    ),
    retrieve=extend_schema(
        summary="One algorithm by key", responses={200: AlgorithmSerializer, **ERROR_RESPONSES}
    ),
)
class AlgorithmViewSet(viewsets.ReadOnlyModelViewSet):
    """The algorithms this service offers (disabled ones included, with
    ``enabled: false``), each with its training price and the hyperparameters a
    training request may set: ``name``, ``type`` (int, float, bool, choice),
    ``default``, ``min``, ``max``, ``choices``, ``help``."""

    serializer_class = AlgorithmSerializer
    lookup_field = "key"

    def get_queryset(self):
        return selectors.algorithm_list()


@extend_schema_view(
    list=extend_schema(
        summary="Your datasets", responses={200: DatasetSerializer(many=True), **ERROR_RESPONSES}
    ),
    retrieve=extend_schema(
        summary="One of your datasets", responses={200: DatasetSerializer, **ERROR_RESPONSES}
    ),
    destroy=extend_schema(summary="Delete a dataset and its file", responses={204: None, **ERROR_RESPONSES}),
)
class DatasetViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Upload CSV files and read their columns and profiles. Only your own datasets
    are visible; another user's dataset is a 404."""

    serializer_class = DatasetSerializer
    max_body_setting = "DATASET_MAX_BYTES"  # core.middleware refuses more by Content-Length
    # Ids are digits: other text is a 404 from the URL resolver, not a ValueError (500).
    lookup_value_regex = "[0-9]+"
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_serializer_class(self):
        # The browsable API draws its upload form from this.
        return DatasetUploadSerializer if self.action == "create" else DatasetSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Dataset.objects.none()
        return selectors.dataset_list_for_user(user=self.request.user)

    def get_object(self) -> Dataset:
        return selectors.dataset_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(
        summary="Upload a CSV dataset",
        request={"multipart/form-data": DatasetUploadSerializer},
        responses={
            201: DatasetSerializer,
            413: OpenApiResponse(description="The file is larger than DATASET_MAX_BYTES."),
            **ERROR_RESPONSES,
        },
    )
    def create(self, request, *args, **kwargs):
        """Multipart ``file`` (CSV) and optional ``name``. The file is checked at once
        (encoding, delimiter, header, row and column limits, ragged lines: a 400 with
        the reason under ``errors.file``) and its columns are returned with their
        kinds and missing counts; the profile is computed in the background
        (``status`` ``profiling`` → ``ready``)."""
        refuse_oversized_upload(request)
        serializer = DatasetUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset = services.dataset_upload(
            user=request.user,
            file=serializer.validated_data["file"],
            name=serializer.validated_data.get("name", ""),
        )
        body = DatasetSerializer(dataset, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: Dataset) -> None:
        services.dataset_delete(dataset=instance)

    @extend_schema(
        summary="Per-column statistics and chart data",
        responses={
            200: DatasetProfileSerializer,
            409: OpenApiResponse(description="Still profiling (`status: profiling`) or profiling failed."),
            **ERROR_RESPONSES,
        },
    )
    @action(detail=True, methods=["get"])
    def profile(self, request, pk=None):
        """The profile: per column ``missing``, ``unique``, ``role`` (``data``,
        ``id``, ``text``, ``constant``, ``empty``), the ``chart`` that fits it
        (``histogram``, ``values``, ``top``, ``none``) and either numeric statistics
        with a ``histogram`` (``edges``, ``counts``) — plus ``values`` (a count per
        value) when there are few distinct ones — or the ``top`` values with counts;
        ``correlations`` (``columns``, ``matrix``) of the numeric columns; and
        ``alerts`` (``kind``: ``missing``, ``constant``, ``id_like``, ``free_text``,
        ``correlated``, ``imbalanced``; ``columns``; ``message``).

        While the dataset is still being profiled the answer is **409** with
        ``status: "profiling"`` — retry in a second or two (or poll
        ``datasets/{id}/`` until ``status`` is ``ready``). A dataset whose profiling
        failed is also a 409, with ``status: "failed"`` and the reason."""
        dataset = self.get_object()
        if dataset.status == Dataset.Status.PROFILING:
            raise Conflict(
                "The dataset is still being profiled; try again in a few seconds.", status="profiling"
            )
        if dataset.status == Dataset.Status.FAILED:
            raise Conflict(f"Profiling failed: {dataset.error}", status="failed")
        body = {"id": dataset.pk, "status": dataset.status, **(dataset.profile or {})}
        return Response(body)


class ZipRenderer(BaseRenderer):
    """Lets a client send ``Accept: application/zip`` to the export; the zip itself is a
    FileResponse, so this only ever renders an error body (as JSON text)."""

    media_type = "application/zip"
    format = "zip"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode()


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@extend_schema_view(
    list=extend_schema(
        summary="Your models and the public catalog",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=TrainedModel.Status.values),
            OpenApiParameter("algorithm", OpenApiTypes.STR, description="An algorithm key."),
            OpenApiParameter("mine", OpenApiTypes.BOOL, description="Only your own models."),
            OpenApiParameter("dataset", OpenApiTypes.INT, description="Models trained on this dataset id."),
            OpenApiParameter("target", OpenApiTypes.STR, description="Models of this target column."),
            OpenApiParameter(
                "sort",
                OpenApiTypes.STR,
                enum=list(selectors.METRIC_SORTS),
                description="Best first by this holdout metric; keeps only ready models of its task.",
            ),
        ],
        responses={200: TrainedModelSummarySerializer(many=True), **ERROR_RESPONSES},
    ),
    retrieve=extend_schema(summary="One model", responses={200: TrainedModelSerializer, **ERROR_RESPONSES}),
    destroy=extend_schema(
        summary="Delete a model (owner or staff)", responses={204: None, **ERROR_RESPONSES}
    ),
)
class TrainedModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Trained models: yours in any status, and the public catalog (ready, active and
    published models of anyone)."""

    serializer_class = TrainedModelSerializer
    lookup_value_regex = "[0-9]+"  # as DatasetViewSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_serializer_class(self):
        # Input shapes for the browsable API's forms; answers always use the output one.
        # Lists give a summary of each model; one model gives everything.
        return {
            "create": TrainRequestSerializer,
            "partial_update": ModelUpdateSerializer,
            "list": TrainedModelSummarySerializer,
        }.get(self.action, TrainedModelSerializer)

    def _render(self, model: TrainedModel) -> dict:
        return TrainedModelSerializer(model, context=self.get_serializer_context()).data

    def get_queryset(self):
        params = self.request.query_params
        model_status = params.get("status") or None
        if model_status and model_status not in TrainedModel.Status.values:
            choices = ", ".join(TrainedModel.Status.values)
            raise InvalidInput(
                f"status: must be one of {choices}.", {"status": [f"Must be one of {choices}."]}
            )
        sort = params.get("sort") or None
        if sort and sort not in selectors.METRIC_SORTS:
            choices = ", ".join(selectors.METRIC_SORTS)
            raise InvalidInput(f"sort: must be one of {choices}.", {"sort": [f"Must be one of {choices}."]})
        dataset = params.get("dataset") or None
        if dataset is not None and not dataset.isdigit():
            raise InvalidInput("dataset: must be a dataset id.", {"dataset": ["Must be a dataset id."]})
        return selectors.model_list_for_user(
            user=self.request.user,
            mine=_flag(params.get("mine")),
            status=model_status,
            algorithm=params.get("algorithm") or None,
            dataset=int(dataset) if dataset else None,
            target=params.get("target") or None,
            sort=sort,
        )

    def get_object(self) -> TrainedModel:
        return selectors.model_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    @extend_schema(
        summary="Train a model",
        request=TrainRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
        responses={
            202: TrainedModelSerializer,
            201: OpenApiResponse(TrainedModelSerializer, description="Finished within Prefer: wait=N."),
            **ERROR_RESPONSES,
        },
    )
    def create(self, request, *args, **kwargs):
        """Every check (dataset ready and yours, target suits the algorithm's task,
        algorithm enabled, hyperparameters, test_size in range, features) is made
        before anything is charged: a 400 names each bad field. Then the model is
        created ``queued`` as the next version of ``name``, the algorithm's training
        price is charged (402 with ``balance`` and ``cost`` when short) and the job
        is enqueued. A failed training is refunded. The newest version that becomes
        ready becomes the active one unless staff chose another."""
        wait = parse_prefer_wait(request.headers.get("Prefer"))
        serializer = TrainRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = services.model_train(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **serializer.validated_data,
        )
        model_id = submission.model.pk
        finished = wait_for_submission(
            TRAINING, model_id, wait=wait, user_id=request.user.pk, replayed=submission.replayed
        )
        model = TrainedModel.objects.select_related("algorithm", "owner").get(pk=model_id)
        return Response(
            self._render(model), status=status.HTTP_201_CREATED if finished else status.HTTP_202_ACCEPTED
        )

    def destroy(self, request, *args, **kwargs):
        """Soft delete: the model leaves every list, its artifact file is removed, the
        ledger keeps its history. Owner or staff; anyone else gets a 404."""
        model = selectors.model_get_owned(user=request.user, pk=kwargs["pk"])
        services.model_delete(model=model)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The webhook deliveries of your training, each with its attempts",
        responses={200: WebhookDeliverySerializer(many=True), **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """Only the caller's own deliveries: of a model someone else trained, none."""
        model = self.get_object()
        return deliveries_answer(
            webhook_deliveries_for_job(user=request.user, resource=Resource.MODEL, job_id=model.pk)
        )

    @extend_schema(
        summary="Cancel a training (owner or staff)",
        request=None,
        responses={200: TrainedModelSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Queued or running: the model becomes ``canceled`` and its training fee is
        refunded at once; a running training stops within a batch of trees or
        boosting iterations. Finished: 409. Anyone but the owner (or staff) gets a 404."""
        model = services.model_cancel(model=selectors.model_get_owned(user=request.user, pk=pk))
        return Response(self._render(model))

    @extend_schema(
        summary="Choose the active version, describe, price or publish a model",
        request=ModelUpdateSerializer,
        responses={200: TrainedModelSerializer, **ERROR_RESPONSES},
    )
    def partial_update(self, request, *args, **kwargs):
        """Its owner: ``is_active`` (one active version per name, the others are
        deactivated; the choice sticks when newer versions are trained),
        ``description``, ``model_card`` (Markdown), and while the model is private
        ``price_per_row`` (≥ 0, at most 4 decimals) and ``price_per_request`` (≥ 0, at
        most 2). Staff: all of that on any model, and ``is_public`` (publishing also
        makes the version active). An owner gets a 403 for what only staff decide
        (publishing, a public model's price or active version); anyone else a 403 for
        a model they can see, a 404 otherwise."""
        model = self.get_object()
        serializer = ModelUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = services.model_update(model=model, by=request.user, **serializer.validated_data)
        return Response(self._render(model))

    @extend_schema(
        summary="Input drift and prediction distribution (owner or staff)",
        responses={200: DriftSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["get"])
    def drift(self, request, pk=None):
        """How far the inputs of the model's recent predictions moved from its training
        data: per feature the population stability index (PSI, on the training deciles
        for numbers, on the categories plus `unknown` and `missing` for the others),
        the share of unknown categories and the change in missing rate, worst first;
        and the share of each predicted class (or a histogram of predicted values)
        against the training target. The recent rows are a uniform sample (at most
        `window.capacity`) of every row predicted since the model became ready.
        `status` is `too_few_rows` until `window.minimum_rows` rows were predicted.
        Owner or staff only: for anyone else, a public model's drift too is a 404 (it
        tells about its users' data). 409 while the model is not ready."""
        model = selectors.model_get_owned(user=request.user, pk=pk)
        report = selectors.model_drift(model=model)
        return Response(DriftSerializer(report).data)

    @extend_schema(
        summary="Export as an MLflow model (zip)",
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description=(
                    "An MLflow model directory, zipped at its root: MLmodel (sklearn, python_function "
                    "and, for CatBoost, catboost flavours), model.pkl, the signature, an input example, "
                    "requirements.txt / python_env.yaml / conda.yaml pinned to the training versions."
                ),
            ),
            **ERROR_RESPONSES,
        },
    )
    @action(
        detail=True, methods=["get"], url_path="export/mlflow", renderer_classes=[JSONRenderer, ZipRenderer]
    )
    def export_mlflow(self, request, pk=None):
        """The model as a standard MLflow model: ``unzip model.zip -d DIR``, then
        ``mlflow models serve -m DIR --env-manager local`` or
        ``mlflow.pyfunc.load_model(DIR).predict(frame)`` give the same predictions as this
        service. The owner, staff, or anyone for a public model; 409 until it is ready."""
        model = self.get_object()
        return FileResponse(
            services.model_export_mlflow(model=model),
            as_attachment=True,
            filename=services.mlflow_export_filename(model),
            content_type="application/zip",
        )


class ModelImportView(APIView):
    """Bring a model trained elsewhere (``POST models/import/``, multipart)."""

    parser_classes = [MultiPartParser, FormParser]
    serializer_class = ModelImportSerializer  # the browsable API's form

    @extend_schema(
        summary="Import a model trained elsewhere",
        request={"multipart/form-data": ModelImportSerializer},
        parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
        responses={
            202: TrainedModelSerializer,
            201: OpenApiResponse(TrainedModelSerializer, description="Checked within Prefer: wait=N."),
            413: OpenApiResponse(description="The file is larger than MODEL_IMPORT_MAX_BYTES."),
            **ERROR_RESPONSES,
        },
    )
    def post(self, request):
        """``file``: a skops file (a scikit-learn estimator or pipeline; any type beyond
        scikit-learn's own and the allow-list is refused by name) or a CatBoost ``.cbm``
        file. A pickle or joblib file is refused (400), whatever its name: loading one
        runs code. With it, ``schema`` (JSON text, see the README) or a ``sample`` CSV
        with ``target`` and ``task`` (the columns and kinds are inferred as for
        training); the sample rows are predicted before the model becomes ready.

        Every check that needs no loaded model is made before anything is charged.
        Then the model is created ``queued`` as the next version of ``name``, the
        import fee (admin → Model import settings) is charged and a worker loads it and
        predicts the sample rows: ``ready``, or ``failed`` with the reason and the fee
        refunded. A ready import is a model like any other: versions, price, publishing,
        predictions."""
        # A body over MODEL_IMPORT_MAX_BYTES is refused (413) by core.middleware from its
        # Content-Length (body_limit in the URLconf); the service counts what it copies.
        wait = parse_prefer_wait(request.headers.get("Prefer"))
        serializer = ModelImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        submission = services.model_import(
            user=request.user,
            name=data["name"],
            file=data["file"],
            schema=data.get("schema") or None,
            sample=data.get("sample"),
            target=data.get("target"),
            task=data.get("task"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        model_id = submission.model.pk
        finished = wait_for_submission(
            TRAINING, model_id, wait=wait, user_id=request.user.pk, replayed=submission.replayed
        )
        model = TrainedModel.objects.select_related("algorithm", "owner").get(pk=model_id)
        body = TrainedModelSerializer(model, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if finished else status.HTTP_202_ACCEPTED)

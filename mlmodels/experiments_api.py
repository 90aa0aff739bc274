"""The experiments API (API.md § Experiments): find the best model for a dataset and
target, read the leaderboard, promote a trial, cancel."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.jobs.waiting import parse_prefer_wait, wait_for_submission
from core.openapi import ERROR_RESPONSES, IDEMPOTENCY_HEADER, PREFER_HEADER
from mlmodels import selectors, services
from mlmodels.experiment_serializers import (
    ExperimentRequestSerializer,
    ExperimentSerializer,
    ExperimentSummarySerializer,
    PromoteRequestSerializer,
)
from mlmodels.jobs import EXPERIMENT
from mlmodels.models import Experiment, TrainedModel
from mlmodels.serializers import TrainedModelSerializer
from webhooks.api import deliveries_answer
from webhooks.models import Resource
from webhooks.selectors import webhook_deliveries_for_job
from webhooks.serializers import WebhookDeliverySerializer


@extend_schema_view(
    list=extend_schema(
        summary="Your experiments", responses={200: ExperimentSummarySerializer(many=True), **ERROR_RESPONSES}
    ),
    retrieve=extend_schema(
        summary="One experiment with its leaderboard",
        responses={200: ExperimentSerializer, **ERROR_RESPONSES},
    ),
)
class ExperimentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Experiments: a search over the catalog's algorithms and their hyperparameters
    for the best model of a dataset and target, each trial cross-validated on the
    training part; the winner becomes a model version measured on the holdout. Only
    your own experiments are visible; another user's is a 404."""

    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def get_serializer_class(self):
        return {
            "create": ExperimentRequestSerializer,
            "promote": PromoteRequestSerializer,
            "list": ExperimentSummarySerializer,
        }.get(self.action, ExperimentSerializer)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Experiment.objects.none()
        return selectors.experiment_list_for_user(user=self.request.user)

    def get_object(self) -> Experiment:
        return selectors.experiment_get_for_user(user=self.request.user, pk=self.kwargs["pk"])

    def _render(self, experiment: Experiment, status_code: int = status.HTTP_200_OK) -> Response:
        body = ExperimentSerializer(experiment, context=self.get_serializer_context()).data
        return Response(body, status=status_code)

    @extend_schema(
        summary="Find the best model",
        request=ExperimentRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER, PREFER_HEADER],
        responses={
            202: ExperimentSerializer,
            201: OpenApiResponse(ExperimentSerializer, description="Finished within Prefer: wait=N."),
            **ERROR_RESPONSES,
        },
    )
    def create(self, request, *args, **kwargs):
        """Every check (dataset yours, target suits the algorithms' task, algorithms
        known and enabled, max_trials 1–500, time_budget_seconds, metric, cv_folds
        2–10) is made before anything is charged: a 400 names each bad field. Then
        the experiment is charged price per trial × max_trials (402 with ``balance``
        and ``cost`` when short) and queued. The trials it does not run (budget spent,
        canceled, failed) are refunded in one entry when it ends."""
        wait = parse_prefer_wait(request.headers.get("Prefer"))
        serializer = ExperimentRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = services.experiment_start(
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            **serializer.validated_data,
        )
        experiment_id = submission.experiment.pk
        finished = wait_for_submission(
            EXPERIMENT, experiment_id, wait=wait, user_id=request.user.pk, replayed=submission.replayed
        )
        experiment = selectors.experiment_get_for_user(user=request.user, pk=experiment_id)
        return self._render(experiment, status.HTTP_201_CREATED if finished else status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Stop an experiment",
        request=None,
        responses={200: ExperimentSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Queued: canceled and refunded in full at once. Running: it stops after the
        trial it is running (``cancel_requested`` true until then) and refunds the
        trials not run. Finished: 409."""
        return self._render(services.experiment_cancel(experiment=self.get_object()))

    @extend_schema(
        summary="Train a leaderboard row as a model version",
        request=PromoteRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={202: TrainedModelSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """A paid training (the algorithm's price) of a complete trial's settings, on
        the experiment's split, as the next version of the experiment's name."""
        experiment = self.get_object()
        serializer = PromoteRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = services.experiment_promote(
            user=request.user,
            experiment=experiment,
            trial=serializer.validated_data["trial"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        model = TrainedModel.objects.select_related("algorithm", "owner").get(pk=submission.model.pk)
        body = TrainedModelSerializer(model, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="The webhook deliveries of an experiment, each with its attempts",
        responses={200: WebhookDeliverySerializer(many=True), **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        experiment = self.get_object()
        return deliveries_answer(
            webhook_deliveries_for_job(user=request.user, resource=Resource.EXPERIMENT, job_id=experiment.pk)
        )

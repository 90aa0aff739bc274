"""The shapes of the experiments API (API.md § Experiments)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import RejectUnknownFieldsMixin
from mlmodels import selectors
from mlmodels.ml import search_plan
from mlmodels.ml.crossval import GREATER_IS_BETTER
from mlmodels.models import Experiment
from webhooks.serializers import WebhookRequestFields


class ExperimentRequestSerializer(RejectUnknownFieldsMixin, WebhookRequestFields):
    dataset = serializers.IntegerField(help_text="Id of one of your datasets.")
    target = serializers.CharField(max_length=255, help_text="The column to predict.")
    algorithms = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text="Algorithm keys to try; default every enabled one that fits the target's task.",
    )
    max_trials = serializers.IntegerField(
        required=False,
        help_text=f"Trials at most, {search_plan.MIN_TRIALS}–{search_plan.MAX_TRIALS} (default {search_plan.DEFAULT_MAX_TRIALS}).",
    )
    time_budget_seconds = serializers.IntegerField(
        required=False,
        help_text=(
            f"Seconds the search may take, at most {search_plan.MAX_TIME_BUDGET_SECONDS} and half the "
            f"service's task timeout (default {search_plan.DEFAULT_TIME_BUDGET_SECONDS})."
        ),
    )
    metric = serializers.CharField(
        required=False,
        help_text="The metric to optimise: roc_auc (default), accuracy, f1, log_loss; rmse (default), mae, r2.",
    )
    cv_folds = serializers.IntegerField(
        required=False,
        help_text=f"Cross-validation folds on the training part, 2–10 (default {search_plan.DEFAULT_CV_FOLDS}).",
    )
    random_state = serializers.IntegerField(
        required=False, help_text="Seed: the same request, the same leaderboard."
    )
    name = serializers.CharField(
        required=False, max_length=100, help_text="Name of the winning model (default: dataset · target)."
    )


class PromoteRequestSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    trial = serializers.IntegerField(help_text="The trial's number on the leaderboard.")


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    trial = serializers.IntegerField(source="trial.number")
    algorithm = serializers.CharField(source="trial.algorithm")
    hyperparameters = serializers.DictField(source="trial.hyperparameters")
    state = serializers.CharField(source="trial.state", help_text="complete, pruned or failed.")
    cv_mean = serializers.FloatField(source="trial.cv_mean", allow_null=True)
    cv_std = serializers.FloatField(source="trial.cv_std", allow_null=True)
    scores = serializers.DictField(
        source="trial.scores", help_text="Every metric measured: {name: {mean, std}}."
    )
    fit_seconds = serializers.FloatField(source="trial.fit_seconds")
    rows = serializers.IntegerField(
        source="trial.rows", help_text="Training rows the trial was evaluated on."
    )
    error = serializers.CharField(source="trial.error")


class ExperimentSerializer(serializers.ModelSerializer):
    time_left_seconds = serializers.SerializerMethodField()
    refunded = serializers.SerializerMethodField()
    greater_is_better = serializers.SerializerMethodField()
    leaderboard = serializers.SerializerMethodField()
    cancel_requested = serializers.SerializerMethodField()

    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "status",
            "stage",
            "progress",
            "error",
            "dataset",
            "dataset_name",
            "target",
            "task",
            "algorithms",
            "metric",
            "greater_is_better",
            "max_trials",
            "trials_done",
            "time_budget_seconds",
            "time_left_seconds",
            "cv_folds",
            "random_state",
            "test_size",
            "best_score",
            "best_trial",
            "best_model",
            "stopped_because",
            "search_seconds",
            "price_per_trial",
            "cost",
            "refunded",
            "cancel_requested",
            "leaderboard",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_time_left_seconds(self, experiment: Experiment) -> int | None:
        if experiment.status != Experiment.Status.RUNNING or experiment.started_at is None:
            return None
        spent = (timezone.now() - experiment.started_at).total_seconds()
        return max(0, round(experiment.time_budget_seconds - spent))

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=2))
    def get_refunded(self, experiment: Experiment) -> str:
        return str(selectors.experiment_refunded(experiment))

    def get_greater_is_better(self, experiment: Experiment) -> bool:
        return GREATER_IS_BETTER[experiment.metric]

    def get_cancel_requested(self, experiment: Experiment) -> bool:
        return experiment.cancel_requested_at is not None

    @extend_schema_field(LeaderboardRowSerializer(many=True))
    def get_leaderboard(self, experiment: Experiment) -> list[dict]:
        return LeaderboardRowSerializer(selectors.leaderboard(experiment), many=True).data


class ExperimentSummarySerializer(ExperimentSerializer):
    """A list row: everything but the leaderboard."""

    class Meta(ExperimentSerializer.Meta):
        fields = [field for field in ExperimentSerializer.Meta.fields if field != "leaderboard"]

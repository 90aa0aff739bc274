"""Explicit input and output shapes for the datasets, algorithms and models API
(see API.md). Input serializers check types only; the rules live in services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import MAX_PRICE
from core.markdown import markdown_to_safe_html
from core.serializers import RejectUnknownFieldsMixin
from mlmodels.ml import targets
from mlmodels.models import DESCRIPTION_MAX_LENGTH, MODEL_CARD_MAX_LENGTH, Algorithm, Dataset, TrainedModel
from mlmodels.services import algorithm_hyperparameters
from webhooks.serializers import WebhookRequestFields


# Statuses are described in words rather than as enums: several apps have a field
# called ``status`` with different values, and drf-spectacular names every enum after
# its field, so they would collide (W001, which fails the deploy check). Adding
# ENUM_NAME_OVERRIDES to SPECTACULAR_SETTINGS would allow real enums again.
@extend_schema_field({"type": "string", "description": "One of: " + ", ".join(Dataset.Status.values) + "."})
class DatasetStatusField(serializers.CharField):
    pass


@extend_schema_field(
    {"type": "string", "description": "One of: " + ", ".join(TrainedModel.Status.values) + "."}
)
class ModelStatusField(serializers.CharField):
    pass


# --- Algorithms --------------------------------------------------------------------------


class HyperParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "bool", "choice"])
    default = serializers.JSONField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField(), allow_null=True)
    help = serializers.CharField()
    nullable = serializers.BooleanField()


class AlgorithmSerializer(serializers.ModelSerializer):
    hyperparameters = serializers.SerializerMethodField()

    class Meta:
        model = Algorithm
        fields = ["key", "name", "task", "description", "training_price", "enabled", "hyperparameters"]

    @extend_schema_field(HyperParameterSerializer(many=True))
    def get_hyperparameters(self, algorithm: Algorithm) -> list[dict[str, Any]]:
        return algorithm_hyperparameters(algorithm.key)


# --- Datasets ----------------------------------------------------------------------------


class ColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["numeric", "categorical", "boolean"])
    missing = serializers.IntegerField()


class DatasetSerializer(serializers.ModelSerializer):
    status = DatasetStatusField(read_only=True)
    columns = ColumnSerializer(many=True, read_only=True)
    profile_url = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "status",
            "rows",
            "columns",
            "original_filename",
            "size_bytes",
            "encoding",
            "delimiter",
            "notes",
            "error",
            "created_at",
            "profile_url",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_profile_url(self, dataset: Dataset) -> str:
        request = self.context.get("request")
        path = f"/api/v1/datasets/{dataset.pk}/profile/"
        return request.build_absolute_uri(path) if request else path


class DatasetUploadSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    # Empty files are let through so the engine refuses them in the same words as any bad file.
    file = serializers.FileField(
        allow_empty_file=True, help_text="The CSV file (comma, semicolon or tab separated)."
    )
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Defaults to the file name."
    )


class DatasetProfileSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    rows = serializers.IntegerField()
    columns = serializers.ListField(child=serializers.DictField(), help_text="Statistics per column.")
    correlations = serializers.DictField(help_text="Pearson correlations of the numeric columns.")


# --- Models ------------------------------------------------------------------------------


class FeatureSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField(), allow_null=True)
    # From the training data, as the model page shows them (absent for models trained
    # before they were kept): a typical value, and a number's range.
    example = serializers.JSONField(required=False, allow_null=True)
    minimum = serializers.FloatField(required=False, allow_null=True)
    maximum = serializers.FloatField(required=False, allow_null=True)


class TrainedModelSerializer(serializers.ModelSerializer):
    status = ModelStatusField(read_only=True)
    algorithm = serializers.CharField(source="algorithm.key")
    algorithm_name = serializers.CharField(source="algorithm.name")
    owner = serializers.CharField(source="owner.username")
    features = FeatureSerializer(many=True, read_only=True)
    classes = serializers.SerializerMethodField()
    dropped_columns = serializers.ListField(child=serializers.DictField(), read_only=True)
    metrics_source = serializers.CharField(
        read_only=True,
        help_text="Where the metrics come from and which rows the served model was fit on.",
    )
    model_card_html = serializers.SerializerMethodField(
        help_text="model_card rendered from Markdown and sanitised (no scripts, only http(s) and mailto links)."
    )

    class Meta:
        model = TrainedModel
        fields = [
            "id",
            "name",
            "version",
            "source",
            "algorithm",
            "algorithm_name",
            "task",
            "hyperparameters",
            "status",
            "stage",
            "progress",
            "error",
            "metrics",
            "features",
            "target",
            "classes",
            "price_per_row",
            "price_per_request",
            "description",
            "model_card",
            "model_card_html",
            "is_public",
            "is_active",
            "active_pinned",
            "owner",
            "dataset",
            "dataset_name",
            "training_fee",
            "test_size",
            "random_state",
            "cv_folds",
            "refit_full",
            "metrics_source",
            "experiment",
            "experiment_trial",
            "requested_features",
            "dropped_columns",
            "rows_used",
            "rows_dropped",
            "warnings",
            "timings",
            "artifact_sha256",
            "library_versions",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.JSONField(), allow_null=True))
    def get_classes(self, model: TrainedModel) -> list | None:
        return model.classes

    def get_model_card_html(self, model: TrainedModel) -> str:
        return markdown_to_safe_html(model.model_card)


# What a list of models leaves out: the per-feature, per-row and per-class details that
# make one model's answer long (one model, GET models/{id}/, has them all).
MODEL_DETAIL_ONLY_FIELDS = (
    "features",
    "requested_features",
    "dropped_columns",
    "warnings",
    "timings",
    "library_versions",
    "artifact_sha256",
)


def metrics_summary(metrics: dict | None) -> dict | None:
    """The headline figures of a model's metrics (accuracy, F1, ROC AUC, RMSE, R², ...):
    every plain value, without the curves and tables (ROC points, residuals, confusion
    matrix, per-class figures, importances, cross-validation folds)."""
    if metrics is None:
        return None
    return {key: value for key, value in metrics.items() if not isinstance(value, (dict, list))}


class TrainedModelSummarySerializer(TrainedModelSerializer):
    """A model in a list: what it is, its status and price, and its headline metrics;
    ``url`` gives the whole model, with its curves and tables."""

    url = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField(
        help_text="Headline figures only; the model's own answer (url) has the curves and tables."
    )

    class Meta(TrainedModelSerializer.Meta):
        fields = ["url"] + [
            name for name in TrainedModelSerializer.Meta.fields if name not in MODEL_DETAIL_ONLY_FIELDS
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, model: TrainedModel) -> str:
        request = self.context.get("request")
        path = f"/api/v1/models/{model.pk}/"
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_metrics(self, model: TrainedModel) -> dict | None:
        return metrics_summary(model.metrics)


class TrainRequestSerializer(RejectUnknownFieldsMixin, WebhookRequestFields):
    name = serializers.CharField(
        max_length=100, help_text="Training again under a name makes its next version."
    )
    dataset = serializers.IntegerField(help_text="Id of one of your datasets (status ready).")
    target = serializers.CharField(max_length=255, help_text="The column to predict.")
    algorithm = serializers.CharField(max_length=64, help_text="An algorithm key from GET algorithms/.")
    hyperparameters = serializers.DictField(
        required=False, default=dict, help_text="name: value; missing ones take their defaults."
    )
    test_size = serializers.FloatField(
        required=False,
        help_text=(
            f"Holdout share, {targets.MIN_TEST_SIZE}–{targets.MAX_TEST_SIZE} "
            f"(default {targets.DEFAULT_TEST_SIZE})."
        ),
    )
    random_state = serializers.IntegerField(
        required=False,
        help_text=f"Seed for the split and the model (default {targets.DEFAULT_RANDOM_STATE}).",
    )
    features = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_empty=True,
        help_text="Columns to use; default every column but the target, minus IDs and constants.",
    )
    cv_folds = serializers.IntegerField(
        required=False,
        help_text=(
            "Also cross-validate on the training part with this many folds (2–10): the model "
            "page shows mean ± std beside the holdout figures. Default: no cross-validation."
        ),
    )
    refit_full = serializers.BooleanField(
        required=False,
        help_text=(
            "After the holdout metrics are measured, refit the served model on every row "
            "(default true). The metrics always come from the holdout fit."
        ),
    )


class ModelImportSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,  # refused by the service, in the same words as any bad file
        help_text=(
            "The model: a scikit-learn estimator or pipeline saved with skops, or a CatBoost "
            "model saved with save_model (.cbm). Pickle and joblib files are refused."
        ),
    )
    name = serializers.CharField(
        max_length=100, help_text="Importing again under a name makes its next version."
    )
    schema = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=(
            'The feature schema as JSON: {"target", "task", "features": [{"name", "kind", '
            '"categories"?}], "classes"?, "sample_rows"?: [{column: value}]}. Or leave it out '
            "and send a sample CSV."
        ),
    )
    sample = serializers.FileField(
        required=False,
        allow_empty_file=True,
        help_text="A sample CSV: its rows check the model; without a schema its columns are inferred.",
    )
    target = serializers.CharField(
        required=False, max_length=255, help_text="With a sample CSV and no schema: the predicted column."
    )
    # Text, not a choice: its enum would collide with the other "task" fields in the
    # OpenAPI schema; the service names the choices when it is wrong.
    task = serializers.CharField(
        required=False,
        max_length=16,
        help_text="With a sample CSV and no schema: classification or regression.",
    )


class ModelUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Types only; who may change what is mlmodels.services.model_update's rule."""

    is_public = serializers.BooleanField(
        required=False, help_text="Staff only: list in the public catalog (makes it active)."
    )
    price_per_row = serializers.DecimalField(
        max_digits=12,
        decimal_places=4,
        min_value=0,
        max_value=MAX_PRICE,
        required=False,
        help_text=f"Coins per predicted row (at most {MAX_PRICE}); the owner's only while private.",
    )
    price_per_request = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        max_value=MAX_PRICE,
        required=False,
        help_text=f"Flat coins per prediction (at most {MAX_PRICE}); the owner's only while private.",
    )
    is_active = serializers.BooleanField(
        required=False,
        help_text="The version predictions use for this name; chosen, it stays active when newer ones are trained.",
    )
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"Plain text for the catalog, at most {DESCRIPTION_MAX_LENGTH} characters.",
    )
    model_card = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"Markdown, at most {MODEL_CARD_MAX_LENGTH:,} characters; shown sanitised.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if not attrs:
            raise serializers.ValidationError("Send at least one of: " + ", ".join(self.fields) + ".")
        return attrs

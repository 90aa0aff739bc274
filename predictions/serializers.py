from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import RejectUnknownFieldsMixin
from mlmodels.ml.errors import InputError
from mlmodels.ml.mlflow_inputs import records_from_columns
from predictions.models import Prediction
from webhooks.serializers import WebhookRequestFields


class PredictionCreateSerializer(RejectUnknownFieldsMixin, WebhookRequestFields):
    """JSON ``{"model", "inputs"}`` or ``{"model", "columns", "data"}`` (plain rows, as
    MLflow's ``dataframe_split``), or multipart ``model`` + ``file``. Fields not listed
    here are refused: a typo (``input``) must not pass silently as "no input"."""

    model = serializers.IntegerField(min_value=1, help_text="Id of a ready model you may use.")
    inputs = serializers.JSONField(
        required=False, help_text="One object (a row) or a list of objects: column name → value."
    )
    file = serializers.FileField(
        required=False, allow_empty_file=True, help_text="A CSV file with a header row (multipart)."
    )
    columns = serializers.JSONField(
        required=False, help_text="With data: the column names of rows given as plain lists."
    )
    data = serializers.JSONField(
        required=False, help_text="With columns: the rows, each a list of values in the order of columns."
    )

    def validate(self, attrs):
        if ("columns" in attrs) != ("data" in attrs):
            raise serializers.ValidationError(
                {"columns" if "data" in attrs else "data": ["Send columns and data together."]}
            )
        if "columns" in attrs:
            if "inputs" in attrs or "file" in attrs:
                message = "Send rows one way: inputs, file, or columns with data."
                raise serializers.ValidationError({"inputs": [message]})
            try:
                attrs["inputs"] = records_from_columns(attrs.pop("columns"), attrs.pop("data"))
            except InputError as error:
                raise serializers.ValidationError(error.errors) from None
        if ("inputs" in attrs) == ("file" in attrs):
            message = (
                "Send either inputs (JSON rows), columns with data, or file (a CSV, as multipart), "
                "not several and not none."
            )
            raise serializers.ValidationError({"inputs": [message]})
        if attrs.get("inputs", "") is None:
            raise serializers.ValidationError({"inputs": ["inputs must be an object or a list of objects."]})
        return attrs


class PredictionSerializer(serializers.ModelSerializer):
    model_name = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    price_per_row = serializers.DecimalField(max_digits=12, decimal_places=4, read_only=True)
    price_per_request = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    cost_formula = serializers.CharField(
        read_only=True, help_text='How the cost was made: "5 per request + 3 rows × 0.01".'
    )

    class Meta:
        model = Prediction
        fields = [
            "id",
            "model",
            "model_name",
            "status",
            "progress",
            "rows",
            "cost",
            "price_per_row",
            "price_per_request",
            "cost_formula",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "results",
            "download_url",
            "input_kind",
            "input_filename",
            "extra_columns",
            "scoring_seconds",
            "files_deleted_at",
        ]
        read_only_fields = fields

    def get_model_name(self, prediction: Prediction) -> str:
        return str(prediction.model)

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, prediction: Prediction) -> str | None:
        if prediction.status != Prediction.Status.SUCCEEDED or prediction.files_deleted_at is not None:
            return None
        path = reverse("prediction-download", args=[prediction.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class PredictionListSerializer(PredictionSerializer):
    """List items leave out the inline ``results`` (fetch one prediction for them)."""

    class Meta(PredictionSerializer.Meta):
        fields = [name for name in PredictionSerializer.Meta.fields if name != "results"]
        read_only_fields = fields

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

    def to_representation(self, prediction: Prediction) -> dict:
        """The fields above, written out: DRF otherwise builds a field object per field
        for every answer, about a tenth of a web process's CPU on one-row predictions.
        The formatting is the fields' own (_FORMAT), and test_serializers.py checks the
        whole answer against DRF's generic rendering for predictions in every state."""
        values = {
            "id": prediction.pk,
            "model": prediction.model_id,
            "model_name": self.get_model_name(prediction),
            "status": prediction.status,
            "progress": prediction.progress,
            "rows": prediction.rows,
            "cost": prediction.cost,
            "price_per_row": prediction.price_per_row,
            "price_per_request": prediction.price_per_request,
            "cost_formula": prediction.cost_formula,
            "error": prediction.error,
            "created_at": prediction.created_at,
            "started_at": prediction.started_at,
            "finished_at": prediction.finished_at,
            "results": prediction.results,
            "download_url": self.get_download_url(prediction),
            "input_kind": prediction.input_kind,
            "input_filename": prediction.input_filename,
            "extra_columns": prediction.extra_columns,
            "scoring_seconds": prediction.scoring_seconds,
            "files_deleted_at": prediction.files_deleted_at,
        }
        answer = {}
        for name in self.Meta.fields:
            value = values[name]
            answer[name] = None if value is None else _FORMAT.get(name, _as_is)(value)
        return answer

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


def _as_is(value):
    return value


_DATETIME = serializers.DateTimeField()
# How PredictionSerializer's fields write their values: DRF's own formatting (the
# declared decimal fields' places, ISO 8601 times with a Z, choices as plain strings).
_FORMAT = {
    **dict.fromkeys(("status", "input_kind", "error", "input_filename", "cost_formula"), str),
    **dict.fromkeys(("progress", "rows"), int),
    "scoring_seconds": float,
    **{
        name: PredictionSerializer._declared_fields[name].to_representation
        for name in ("cost", "price_per_row", "price_per_request")
    },
    **dict.fromkeys(
        ("created_at", "started_at", "finished_at", "files_deleted_at"), _DATETIME.to_representation
    ),
}

"""The web form of a model import: types only; every rule is mlmodels.services.imports'."""

from __future__ import annotations

from django import forms
from django.conf import settings

from core.forms import IdempotentForm
from core.units import human_size


class ModelImportForm(IdempotentForm):
    file = forms.FileField(
        label="Model file",
        allow_empty_file=True,  # the service refuses it, in the same words as the API
        widget=forms.ClearableFileInput(attrs={"accept": ".skops,.cbm"}),
    )
    name = forms.CharField(max_length=100, help_text="Importing again under a name makes its next version.")
    schema = forms.CharField(
        label="Feature schema (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace", "spellcheck": "false"}),
        help_text=(
            'For example {"target": "label", "task": "classification", "features": '
            '[{"name": "x", "kind": "numeric"}, {"name": "color", "kind": "categorical"}], '
            '"sample_rows": [{"x": 0.5, "color": "red"}]}. Or leave it empty and send a sample CSV.'
        ),
    )
    sample = forms.FileField(
        label="Sample CSV",
        required=False,
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="Rows the model is checked on; without a schema, its columns and kinds are inferred.",
    )
    target = forms.CharField(
        max_length=255,
        required=False,
        help_text="With a sample CSV and no schema: the column the model predicts.",
    )
    task = forms.ChoiceField(
        choices=[("", "—"), ("classification", "Classification"), ("regression", "Regression")],
        required=False,
        help_text="With a sample CSV and no schema.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            "A scikit-learn estimator or pipeline saved with skops (skops.io.dump), or a CatBoost model "
            f"saved with save_model (.cbm); up to {human_size(settings.MODEL_IMPORT_MAX_BYTES)}. "
            "Pickle and joblib files are refused: loading them runs code."
        )

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "file": data["file"],
            "schema": data.get("schema") or None,
            "sample": data.get("sample") or None,
            "target": data.get("target") or None,
            "task": data.get("task") or None,
        }

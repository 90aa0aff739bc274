"""The three ways to send input from the predict page. They only parse what the browser
sent; the rules (schema, limits, cost) are the service's, shared with the API."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from core.forms import IdempotentForm
from mlmodels.ml.schema import Feature
from predictions.models import Prediction

MISSING_CHOICE = ("", "(other / missing)")


class PredictForm(IdempotentForm):
    """Common part of the three ways to send rows (a prefix each, one page)."""

    mode = ""
    reused_message = "This form was already used for another prediction. Submit again to make a new one."

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", self.mode)
        super().__init__(*args, **kwargs)


class RowForm(PredictForm):
    """One row, one field per feature of the model's schema."""

    mode = "row"

    def __init__(self, *args, features: list[Feature], **kwargs):
        super().__init__(*args, **kwargs)
        self.features = features
        for index, feature in enumerate(features):
            self.fields[self.field_name(index)] = self._field_for(feature)

    @staticmethod
    def field_name(index: int) -> str:
        # Feature names may hold spaces or dots; form field names stay simple.
        return f"feature_{index}"

    @staticmethod
    def _field_for(feature: Feature) -> forms.Field:
        # The example (a typical value from the training data) is what "fill example" puts in.
        example = {"data-example": _plain(feature.example)} if feature.example is not None else {}
        if feature.kind == "numeric":
            return forms.CharField(
                label=feature.name,
                required=False,
                help_text=_describe(feature),
                widget=forms.NumberInput(attrs={"step": "any", "placeholder": "empty = missing", **example}),
            )
        if feature.kind == "boolean":
            choices = [("", "(missing)"), ("true", "true"), ("false", "false")]
        else:
            choices = [MISSING_CHOICE] + [(value, value) for value in feature.categories or []]
        return forms.ChoiceField(
            label=feature.name,
            required=False,
            choices=choices,
            help_text=_describe(feature),
            widget=forms.Select(attrs=example),
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.features and not any(
            cleaned.get(self.field_name(index)) not in (None, "") for index in range(len(self.features))
        ):
            # Every value missing: the model would answer from its imputed defaults
            # alone, which nobody means to pay for.
            raise forms.ValidationError(
                "Fill in at least one field (or “Fill example”); every value is empty."
            )
        return cleaned

    @property
    def has_examples(self) -> bool:
        return any(feature.example is not None for feature in self.features)

    def row(self) -> dict[str, Any]:
        """The row for the service: empty fields are missing values (None)."""
        return {
            feature.name: (self.cleaned_data.get(self.field_name(index)) or None)
            for index, feature in enumerate(self.features)
        }


# Known values listed under a field before "and N more".
LISTED_VALUES = 6


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _describe(feature: Feature) -> str:
    """What a field takes, in a few words: its type and range, or its known values."""
    if feature.kind == "numeric":
        if feature.minimum is not None and feature.maximum is not None:
            text = f"Number, {_plain(feature.minimum)} to {_plain(feature.maximum)} in training"
            return text + (f"; typical {_plain(feature.example)}." if feature.example is not None else ".")
        return "Number."
    if feature.kind == "boolean":
        return "true or false."
    values = feature.categories or []
    if not values:
        return "Text."
    listed = ", ".join(values[:LISTED_VALUES])
    more = f" and {len(values) - LISTED_VALUES} more" if len(values) > LISTED_VALUES else ""
    return f"One of {len(values)}: {listed}{more}."


class CsvForm(PredictForm):
    mode = "csv"
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the service says why an empty file cannot be scored
        help_text="A header row with the model's columns; extra columns are ignored.",
    )


class JsonForm(PredictForm):
    mode = "json"
    inputs = forms.CharField(
        label="JSON rows",
        widget=forms.Textarea(attrs={"rows": 8, "class": "font-monospace", "spellcheck": "false"}),
        help_text="One object, or a list of objects: column name → value.",
    )

    def clean_inputs(self) -> Any:
        try:
            return json.loads(self.cleaned_data["inputs"])
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                f"This is not valid JSON: {error.msg} (line {error.lineno})."
            ) from None


class PredictionFilterForm(forms.Form):
    model = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(required=False, choices=[("", "Any status")] + Prediction.Status.choices)

    def __init__(self, *args, models, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "Any model")] + [(model.pk, str(model)) for model in models]

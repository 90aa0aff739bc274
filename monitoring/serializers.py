"""The drift report as JSON (``GET models/{id}/drift/``): explicit output serializers
over monitoring.selectors.DriftReport."""

from __future__ import annotations

from rest_framework import serializers


class BinSerializer(serializers.Serializer):
    label = serializers.CharField(help_text="A decile range, a category, `unknown`, `other` or `missing`.")
    training = serializers.FloatField(help_text="Share of the training rows in this bin (0–1).")
    recent = serializers.FloatField(help_text="Share of the sampled recent rows in this bin (0–1).")


class FeatureDriftSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text="numeric, categorical or boolean.")
    psi = serializers.FloatField(help_text="Population stability index, training → recent.")
    level = serializers.ChoiceField(
        choices=["green", "amber", "red"], help_text="green below 0.1, amber 0.1–0.25, red above 0.25."
    )
    unknown_share = serializers.FloatField(
        help_text="Share of recent rows whose category was never seen in training (0 for numbers)."
    )
    missing_change = serializers.FloatField(help_text="Recent missing rate − training missing rate.")
    training_missing = serializers.FloatField()
    recent_missing = serializers.FloatField()
    bins = BinSerializer(many=True)


class WindowSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Rows in the sample the recent figures come from.")
    seen = serializers.IntegerField(
        help_text="Rows predicted since the sample started (it is a uniform sample of them)."
    )
    minimum_rows = serializers.IntegerField(
        help_text="Rows the sample needs before drift is measured (DRIFT_MIN_ROWS)."
    )
    capacity = serializers.IntegerField(help_text="Largest sample kept (DRIFT_SAMPLE_ROWS).")
    started_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class PredictionDistributionSerializer(serializers.Serializer):
    task = serializers.CharField()
    predicted = serializers.IntegerField(help_text="Rows predicted in all.")
    bins = BinSerializer(
        many=True,
        help_text="Per class (classifiers: training = the class's share of the training target) or per "
        "bucket of the predicted value (regressors: the training target's deciles).",
    )


class DriftSerializer(serializers.Serializer):
    model = serializers.IntegerField()
    # A plain string, not an enum: drf-spectacular would clash with the other "status" enums.
    status = serializers.CharField(
        help_text="`ready`: `features` holds the drift; `too_few_rows`: fewer sampled rows than "
        "`window.minimum_rows`; `no_reference`: the model kept no training reference (imported, or "
        "trained before drift was measured)."
    )
    detail = serializers.CharField(help_text="What the status means for this model, in words.")
    psi_max = serializers.FloatField(allow_null=True)
    features = FeatureDriftSerializer(many=True, help_text="Worst first (highest PSI).")
    window = WindowSerializer()
    predictions = PredictionDistributionSerializer(allow_null=True)

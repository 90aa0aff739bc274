"""What monitoring keeps per model: the training reference, a bounded sample of the
rows it predicted, and running tallies of what it predicted. The tables point at
``mlmodels.TrainedModel`` by name (no import): monitoring sits below the apps that
call it (mlmodels when a model becomes ready, predictions after each scoring)."""

from __future__ import annotations

from django.db import models

MODEL = "mlmodels.TrainedModel"


class TrainingReference(models.Model):
    """The distribution of each feature (and of the target) in the training data, on the
    bins drift is measured on (monitoring.distributions)."""

    model = models.OneToOneField(MODEL, on_delete=models.CASCADE, related_name="training_reference")
    # [{"name": ..., "kind": ..., <monitoring.distributions reference>}, ...] in schema order.
    features = models.JSONField(default=list)
    target = models.JSONField(default=dict)
    rows = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)


class PredictionSample(models.Model):
    """The model's reservoir: ``seen`` rows predicted so far, ``size`` of them kept in
    PredictionSampleRow slots ``0 .. size - 1`` (a uniform sample of all of them), and
    the worst feature's PSI as last computed (for /metrics)."""

    model = models.OneToOneField(MODEL, on_delete=models.CASCADE, related_name="prediction_sample")
    seen = models.BigIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)
    # The feature names the rows' values follow, in order.
    features = models.JSONField(default=list)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    psi_max = models.FloatField(null=True, blank=True)
    # Slots replaced since psi_max was computed: it is refreshed after enough change.
    changed_since_psi = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(seen__gte=0), name="sample_seen_gte_0")]


class PredictionSampleRow(models.Model):
    model = models.ForeignKey(MODEL, on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveIntegerField()
    # One coerced value per feature (numbers, text, None for missing).
    values = models.JSONField()
    # The class position (classifiers) or the predicted value (regressors).
    prediction = models.JSONField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "slot"], name="one_row_per_sample_slot")]


class PredictionTally(models.Model):
    """Rows predicted per class (key: the class position, or ``other`` past
    distributions.MAX_CLASSES) or per histogram bucket of a regressor (key: ``b<i>``,
    bucket i of the model's value edges), and a regressor's ``sum``. Running totals:
    they only grow."""

    model = models.ForeignKey(MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=16)
    count = models.BigIntegerField(default=0)
    total = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="one_tally_per_model_key")]


class ProcessSample(models.Model):
    """The CPU time and resident memory of one web or worker process, as it last reported
    them (monitoring.processes). Rows, not Prometheus' multiprocess files: the workers
    run in other containers or machines than the web that answers /metrics."""

    role = models.CharField(max_length=16)  # web or worker
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    cpu_seconds = models.FloatField(default=0.0)
    resident_bytes = models.BigIntegerField(default=0)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host", "pid", "role"], name="one_sample_per_process"),
        ]

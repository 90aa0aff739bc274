from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models import COINS
from billing.services import cost_formula


class Prediction(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    class InputKind(models.TextChoices):
        JSON = "json", "JSON"
        CSV = "csv", "CSV file"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="predictions")
    model = models.ForeignKey("mlmodels.TrainedModel", on_delete=models.PROTECT, related_name="predictions")
    token = models.CharField(max_length=32, help_text="Random part of stored file names.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times the job was enqueued.")
    # When the task was last handed to the broker: the sweep enqueues again a job still
    # queued long after this (a broker without delivery receipts can lose a task).
    enqueued_at = models.DateTimeField(null=True, blank=True)

    input_kind = models.CharField(max_length=8, choices=InputKind.choices)
    inputs = models.JSONField(null=True, blank=True, help_text="JSON input rows.")
    # The column order of JSON input as sent (PostgreSQL's jsonb does not keep the key
    # order of objects), so the result file lists the columns the way the user did.
    input_columns = models.JSONField(default=list, blank=True)
    # The JSON rows as the schema's coercion left them when they were checked at submit
    # ({"features": [[name, kind], ...], "rows": [[value, ...], ...]}), so the worker
    # scores them without coercing every value a second time.
    coerced_inputs = models.JSONField(null=True, blank=True)
    # Named by predictions.uploads when the upload streams in.
    input_file = models.FileField(upload_to="predictions/", max_length=300, blank=True)
    input_filename = models.CharField(max_length=255, blank=True)
    rows = models.PositiveIntegerField()
    extra_columns = models.JSONField(default=list, blank=True)

    price_per_row = models.DecimalField(max_digits=12, decimal_places=4)
    price_per_request = models.DecimalField(**COINS, default=Decimal("0.00"))
    cost = models.DecimalField(**COINS)

    results = models.JSONField(null=True, blank=True, help_text="Inline results for JSON input.")
    result_file = models.CharField(max_length=300, blank=True, help_text="Path under MEDIA_ROOT.")
    scoring_seconds = models.FloatField(null=True, blank=True)
    # Set when the sweep deleted the input and result files (PREDICTION_FILE_RETENTION_DAYS).
    files_deleted_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            # The sweep looks for old queued and running jobs.
            models.Index(fields=["status", "enqueued_at"]),
            # The sweep looks for finished jobs whose files are due for deletion.
            models.Index(fields=["files_deleted_at", "finished_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=0), name="prediction_cost_not_negative"),
            models.CheckConstraint(condition=Q(rows__gte=1), name="prediction_has_rows"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="prediction_progress_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"Prediction {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def cost_formula(self) -> str:
        """How its cost was made: "5 per request + 3 rows × 0.01"."""
        return cost_formula(
            rows=self.rows, price_per_row=self.price_per_row, price_per_request=self.price_per_request
        )

    @property
    def cost_rounded(self) -> bool:
        """Whether the cost was rounded up to the cent (the formula alone gives less)."""
        exact = self.price_per_request + self.rows * self.price_per_row
        return self.cost is not None and self.cost != exact

    @property
    def can_cancel(self) -> bool:
        return self.status == self.Status.QUEUED

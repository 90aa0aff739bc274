"""Webhooks: a user's settings (default URL, signing secret), the subscription a job
was submitted with, one delivery per event of that job and one row per attempt.

Jobs of other apps are named by ``resource`` and ``job_id`` (not foreign keys): this app
sits below the job apps and knows none of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WebhookSettings(models.Model):
    """One per user who set a default URL or made a signing secret."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_settings"
    )
    # Used by a submission that names no webhook of its own.
    default_url = models.CharField(max_length=2000, blank=True)
    # Stored as is ("whsec_" + base64): the worker must read it to sign. It is shown to
    # its owner once, when made; pages and the API never show it again.
    secret = models.CharField(max_length=100, blank=True)
    secret_created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook settings"

    def __str__(self) -> str:
        return f"webhook settings of {self.user}"


class Resource(models.TextChoices):
    PREDICTION = "prediction", "prediction"
    MODEL = "model", "model"
    EXPERIMENT = "experiment", "experiment"


class Event(models.TextChoices):
    START = "start", "start"
    COMPLETED = "completed", "completed"


class WebhookSubscription(models.Model):
    """The webhook a job was submitted with: where to send which of its events."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    resource = models.CharField(max_length=16, choices=Resource.choices)
    job_id = models.PositiveBigIntegerField()
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)
    created_at = models.DateTimeField()
    # The per-job lease: while set and in the future, one process is sending one of this
    # job's deliveries and no other may (at most one delivery in flight per job).
    in_flight_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resource", "job_id"], name="webhook_one_subscription_per_job")
        ]

    def __str__(self) -> str:
        return f"{self.resource} #{self.job_id} → {self.url}"


class WebhookDelivery(models.Model):
    """One event of one job, sent until a 2xx answer or until the attempts run out."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=16, choices=Event.choices)
    # The webhook-id header: the same for every attempt of this event.
    message_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The body, rendered once when the event happened; every attempt sends these exact
    # bytes (UTF-8 JSON text).
    body = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; empty once delivered or given up.
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event"], name="webhook_one_delivery_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.event}, {self.status})"


class WebhookAttempt(models.Model):
    """One try at sending a delivery: what the receiver answered, or why it failed."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    # At most 1 KB of the receiver's answer, decoded leniently.
    response_body = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_one_attempt_per_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

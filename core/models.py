from django.conf import settings
from django.db import models
from django.utils import timezone


class ServiceCounter(models.Model):
    """A counter shared by every process of the service, web and workers, on any
    machine: raised by one statement (core.counters.counters_add), read by
    /metrics. For events that happen only inside one process, such as a worker's
    model cache being hit or missed, and for running totals kept at event time (jobs
    by kind and label, their durations, coins by ledger kind), so a scrape reads a few
    hundred rows instead of aggregating whole tables."""

    # Long enough for a family and its labels: jobs_finished{kind=…,algorithm=<64>,status=…}.
    name = models.CharField(max_length=200, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class IdempotencyKey(models.Model):
    """The first successful answer to a POST sent with an ``Idempotency-Key`` header,
    so a retry gets the same answer and pays nothing more. Kept for
    IDEMPOTENCY_KEY_TTL_HOURS; the sweep deletes older ones."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=32)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "scope", "key"], name="core_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"

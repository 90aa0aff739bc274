"""Reads scoped to a user: another user's settings and deliveries are never returned."""

from __future__ import annotations

from django.db.models import QuerySet

from webhooks.models import WebhookDelivery, WebhookSettings


def webhook_settings_for_user(*, user) -> WebhookSettings | None:
    return WebhookSettings.objects.filter(user=user).first()


def webhook_deliveries_for_job(*, user, resource: str, job_id: int) -> QuerySet[WebhookDelivery]:
    """The deliveries of the user's own job (the caller checked the job is visible to
    them; the owner filter makes sure nobody else's attempts come back), each with its
    attempts, oldest first."""
    return (
        WebhookDelivery.objects.filter(
            subscription__owner=user, subscription__resource=resource, subscription__job_id=job_id
        )
        .select_related("subscription")
        .prefetch_related("attempt_rows")
        .order_by("created_at", "pk")
    )

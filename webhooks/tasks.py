"""django-q tasks of webhooks (ids only; safe to run twice: each attempt is recorded
by a conditional update, under the job's lease)."""

from __future__ import annotations

from webhooks.services import webhook_subscription_deliver, webhooks_deliver_due


def deliver_job_webhooks(subscription_id: int) -> str:
    """The first attempt of a job's event, enqueued when the job's move commits."""
    sent = webhook_subscription_deliver(subscription_id=subscription_id)
    return f"webhooks of subscription {subscription_id}: {sent} attempts"


def deliver_due_webhooks() -> str:
    """Every minute (setup_schedules): retries that are due, and first attempts whose
    task was lost."""
    return f"due webhooks: {webhooks_deliver_due()} attempts"

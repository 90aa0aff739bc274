"""Webhooks: everything that writes — a user's default URL and signing secret, the
subscription a job is submitted with, the delivery of its events, and each attempt.

A job's ``start`` and ``completed`` events are recorded in the transaction that moves
the job (core.jobs.lifecycle calls the kind's ``on_event``), so an event exists exactly
when its move committed; its first attempt is a django-q task enqueued on commit, and
the retries (and any event whose task was lost) are sent by the periodic
``deliver_due_webhooks`` task. Nothing here can change a job's status or its charge:
a failure to record or send is logged, counted and kept on the delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from core.counters import counter_increment, counter_name
from core.errors import InvalidInput
from core.jobs.queue import enqueue_on_commit
from core.queries import CompiledQuery
from webhooks import sending, signing
from webhooks.models import Event, WebhookAttempt, WebhookDelivery, WebhookSettings, WebhookSubscription
from webhooks.registry import render_resource
from webhooks.url_checks import UrlRefused, url_check, url_parse

logger = logging.getLogger(__name__)

# Seconds from one attempt to the next: the first is sent at once, then 30 s, 2 min,
# 5 min, 15 min and 40 min later (six attempts over about an hour), then given up.
RETRY_DELAYS = (30, 120, 300, 900, 2400)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# How long one process may hold a job's deliveries (the per-job lease): longer than an
# attempt can take (a connect and a read of TIMEOUT_SECONDS each), so a lease only runs
# out when its holder died.
LEASE_SECONDS = 120
DELIVERY_TASK = "webhooks.tasks.deliver_job_webhooks"
COUNTER = "webhook_deliveries"
# Attempt outcomes counted on /metrics.
DELIVERED, RETRYING, FAILED, REFUSED = "delivered", "retrying", "failed", "refused"
DEFAULT_EVENTS = [Event.COMPLETED.value]
NO_SECRET = (
    "Make a webhook signing secret first (on your profile page, or POST me/webhook-secret/): "
    "every webhook is signed with it."
)


# --- A user's settings ---------------------------------------------------------------------


def _url_error(error: UrlRefused, field: str) -> InvalidInput:
    return InvalidInput(f"{field}: {error}", {field: [str(error)]})


def webhook_default_url_set(*, user, url: str, field: str = "webhook_url") -> WebhookSettings:
    """Set (or, with an empty ``url``, clear) the URL used by submissions that name none.
    Checked as a submission's URL is (resolved, every address public); it needs a
    signing secret first, so a default URL never leaves a submission unable to sign."""
    url = (url or "").strip()
    if url:
        try:
            url_check(url)
        except UrlRefused as error:
            raise _url_error(error, field) from None
        if not WebhookSettings.objects.filter(user=user).exclude(secret="").exists():
            raise InvalidInput(f"{field}: {NO_SECRET}", {field: [NO_SECRET]})
    found, _ = WebhookSettings.objects.update_or_create(user=user, defaults={"default_url": url})
    return found


def webhook_secret_regenerate(*, user) -> tuple[str, WebhookSettings]:
    """Make a new signing secret (the old one stops signing at once) and return it: the
    only time it is shown."""
    secret = signing.secret_new()
    found, _ = WebhookSettings.objects.update_or_create(
        user=user, defaults={"secret": secret, "secret_created_at": timezone.now()}
    )
    return secret, found


# --- Submission --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    events: list[str]


def _events(events: Any) -> list[str]:
    if events is None:
        return list(DEFAULT_EVENTS)
    allowed = Event.values
    if not isinstance(events, list) or not events or any(event not in allowed for event in events):
        message = f"A list of one or both of: {', '.join(allowed)}."
        raise InvalidInput(f"webhook_events: {message}", {"webhook_events": [message]})
    return [event for event in allowed if event in events]


def webhook_target_for_submission(
    *, user, url: str | None = None, events: Any = None
) -> WebhookTarget | None:
    """Where a job's events go: the request's ``webhook`` or else the user's default
    URL; None when neither. Called before anything is charged: a bad URL or list of
    events is a 400 naming ``webhook`` or ``webhook_events``. A URL named in the request
    is resolved and its addresses checked now; the default URL was checked when it was
    saved (every delivery checks again)."""
    chosen_events = _events(events)
    found = WebhookSettings.objects.filter(user=user).first()
    url = (url or "").strip()
    if url:
        try:
            url_check(url)
        except UrlRefused as error:
            raise _url_error(error, "webhook") from None
    elif found is not None and found.default_url:
        url = found.default_url
        try:
            url_parse(url)  # WEBHOOK_ALLOW_HTTP may have been turned off since
        except UrlRefused as error:
            raise _url_error(error, "webhook") from None
    elif events is not None:
        message = "Name a webhook URL (or set a default one on your profile) to choose its events."
        raise InvalidInput(f"webhook_events: {message}", {"webhook_events": [message]})
    else:
        return None
    if found is None or not found.secret:
        raise InvalidInput(f"webhook: {NO_SECRET}", {"webhook": [NO_SECRET]})
    return WebhookTarget(url=url, events=chosen_events)


def webhook_subscribe(*, target: WebhookTarget | None, owner, resource: str, job_id: int) -> None:
    """In the transaction that creates the job: remember where its events go."""
    if target is None:
        return
    WebhookSubscription.objects.create(
        owner=owner,
        resource=resource,
        job_id=job_id,
        url=target.url,
        events=target.events,
        created_at=timezone.now(),
    )


# --- Events ------------------------------------------------------------------------------------


# The lookup every move of every job makes, compiled once per resource (core.queries).
_SUBSCRIPTION_QUERIES: dict[str, CompiledQuery] = {}


def _subscription(resource: str, job_id: int) -> WebhookSubscription | None:
    query = _SUBSCRIPTION_QUERIES.get(resource)
    if query is None:
        query = _SUBSCRIPTION_QUERIES.setdefault(
            resource,
            CompiledQuery(
                lambda job_id: (
                    WebhookSubscription.objects.filter(resource=resource, job_id=job_id)
                    .only("pk", "events")
                    .order_by("pk")[:1]
                ),
                "job_id",
            ),
        )
    found = query.instances(WebhookSubscription, job_id=job_id)
    return found[0] if found else None


def webhook_job_event(*, resource: str, job_id: int, event: str) -> None:
    """Record the job's ``event`` for delivery, in the transaction that moves the job,
    and send it once that commits. The body is rendered here, so it shows the job as
    this move left it (a ``start`` sent late still says ``running``). Never raises: a
    webhook must not fail a job (savepoints keep a failure here from rolling back the
    job's move; the lookup, which every move of every job makes, runs without one: only
    a lost connection makes it fail, and that ends the job's transaction anyway)."""
    try:
        subscription = _subscription(resource, job_id)
    except Exception:
        logger.exception("could not look up the webhook of %s #%s", resource, job_id)
        return
    if subscription is None or event not in subscription.events:
        return
    try:
        with transaction.atomic():
            now = timezone.now()
            _, created = WebhookDelivery.objects.get_or_create(
                subscription=subscription,
                event=event,
                defaults={
                    "message_id": signing.message_id_new(),
                    "body": _rendered(resource, job_id),
                    "next_attempt_at": now,
                    "created_at": now,
                },
            )
    except Exception:
        logger.exception("could not record the %s webhook of %s #%s", event, resource, job_id)
        return
    if created:
        enqueue_on_commit(DELIVERY_TASK, subscription.pk, task_name=f"webhook-{resource}-{job_id}-{event}")


def _rendered(resource: str, job_id: int) -> str:
    """The resource as its GET answers it, as JSON text; "" when it cannot be rendered
    now (the first attempt tries again)."""
    try:
        with transaction.atomic():
            return JSONRenderer().render(render_resource(resource, job_id)).decode("utf-8")
    except Exception:
        logger.exception("could not render the webhook body of %s #%s", resource, job_id)
        return ""


# --- Delivery ----------------------------------------------------------------------------------


def webhooks_deliver_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Send every delivery whose attempt is due (the periodic task); the number of
    attempts made. ``now`` fixes the clock (tests advance it instead of sleeping)."""
    moment = now or timezone.now()
    subscription_ids = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=moment)
        .order_by("next_attempt_at")
        .values_list("subscription_id", flat=True)[:limit]
    )
    return sum(
        webhook_subscription_deliver(subscription_id=subscription_id, now=now)
        for subscription_id in dict.fromkeys(subscription_ids)
    )


def webhook_subscription_deliver(*, subscription_id: int, now: datetime | None = None) -> int:
    """Send the job's due deliveries, oldest first, holding the job's lease: at most one
    delivery of a job is in flight at a time, whatever the number of workers. 0 when
    another process holds the lease: that one looks again for due deliveries after
    letting the lease go, so an event whose own task found the lease taken still goes at
    once (the periodic task is the last resort)."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    attempted: set[int] = set()
    while True:
        lease = clock() + timedelta(seconds=LEASE_SECONDS)
        taken = (
            WebhookSubscription.objects.filter(pk=subscription_id)
            .filter(Q(in_flight_until__isnull=True) | Q(in_flight_until__lte=clock()))
            .update(in_flight_until=lease)
        )
        if not taken:
            return len(attempted)
        try:
            subscription = WebhookSubscription.objects.get(pk=subscription_id)
            while (delivery := _next_due(subscription_id, clock(), attempted)) is not None:
                attempted.add(delivery.pk)
                _attempt(delivery, subscription, clock())
        finally:
            WebhookSubscription.objects.filter(pk=subscription_id, in_flight_until=lease).update(
                in_flight_until=None
            )
        if _next_due(subscription_id, clock(), attempted) is None:
            return len(attempted)


def _next_due(subscription_id: int, now: datetime, attempted: set[int]) -> WebhookDelivery | None:
    """The job's oldest delivery due now, not tried yet by this call (each is tried at
    most once per call: a failed one waits for its next attempt)."""
    return (
        WebhookDelivery.objects.filter(
            subscription_id=subscription_id,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .exclude(pk__in=attempted)
        .order_by("created_at", "pk")
        .first()
    )


def _body(delivery: WebhookDelivery, subscription: WebhookSubscription) -> bytes:
    """The delivery's body, the same bytes for every attempt: rendered when the event
    was recorded (or, if that failed, at the first attempt, and stored)."""
    if not delivery.body:
        text = (
            JSONRenderer().render(render_resource(subscription.resource, subscription.job_id)).decode("utf-8")
        )
        WebhookDelivery.objects.filter(pk=delivery.pk, body="").update(body=text)
        delivery.body = WebhookDelivery.objects.values_list("body", flat=True).get(pk=delivery.pk)
    return delivery.body.encode("utf-8")


def _send(
    delivery: WebhookDelivery, subscription: WebhookSubscription, now: datetime
) -> tuple[sending.SendResult, bool]:
    """One attempt; (what happened, whether the URL was refused)."""
    started = timezone.now()
    try:
        body = _body(delivery, subscription)
        secret = (
            WebhookSettings.objects.filter(user_id=subscription.owner_id)
            .values_list("secret", flat=True)
            .first()
        )
        if not secret:
            return sending.SendResult(
                None, 0, error="No signing secret: make one on your profile page."
            ), False
        parsed, addresses = url_check(subscription.url)
    except UrlRefused as error:
        return sending.SendResult(None, _ms_since(started), error=f"Refused: {error}"[:500]), True
    except Exception as error:
        logger.exception("webhook %s could not be prepared", delivery.message_id)
        return sending.SendResult(
            None, _ms_since(started), error=f"Internal error: {type(error).__name__}"
        ), False
    headers = signing.signed_headers(
        secret=secret, message_id=delivery.message_id, timestamp=int(now.timestamp()), body=body
    )
    headers["webhook-event"] = f"{subscription.resource}.{delivery.event}"
    return sending.send(url=parsed, address=addresses[0], body=body, headers=headers), False


def _attempt(delivery: WebhookDelivery, subscription: WebhookSubscription, now: datetime) -> None:
    result, refused = _send(delivery, subscription, now)
    number = delivery.attempts + 1
    if result.succeeded:
        outcome, status, next_at = DELIVERED, WebhookDelivery.Status.DELIVERED, None
    elif refused or number >= MAX_ATTEMPTS:
        outcome, status, next_at = (REFUSED if refused else FAILED), WebhookDelivery.Status.FAILED, None
    else:
        outcome, status = RETRYING, WebhookDelivery.Status.PENDING
        next_at = now + timedelta(seconds=RETRY_DELAYS[number - 1])
    try:
        with transaction.atomic():
            moved = WebhookDelivery.objects.filter(
                pk=delivery.pk, status=WebhookDelivery.Status.PENDING, attempts=delivery.attempts
            ).update(
                attempts=number,
                status=status,
                next_attempt_at=next_at,
                finished_at=None if next_at else now,
            )
            if moved:
                WebhookAttempt.objects.create(
                    delivery=delivery,
                    number=number,
                    attempted_at=now,
                    status_code=result.status_code,
                    duration_ms=result.duration_ms,
                    succeeded=result.succeeded,
                    error=result.error[:500],
                    response_body=result.response_body[: sending.RESPONSE_BODY_LIMIT],
                )
                counter_increment(name=counter_name(COUNTER, outcome=outcome))
    except DatabaseError:
        logger.exception("could not record attempt %s of webhook %s", number, delivery.message_id)
        return
    log = logger.info if result.succeeded else logger.warning
    log(
        "webhook %s (%s #%s %s) attempt %s: %s",
        delivery.message_id,
        subscription.resource,
        subscription.job_id,
        delivery.event,
        number,
        outcome if not result.error else f"{outcome}: {result.error}",
    )


def _ms_since(started: datetime) -> int:
    return max(0, round((timezone.now() - started).total_seconds() * 1000))

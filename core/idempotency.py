"""``Idempotency-Key`` on paid POSTs: a retry with the same key and body gets the first
answer and pays nothing more; the same key with another body is a 409. Every paid
submission (training, predictions, …) goes through ``idempotent_submit``, from the API
and from the web forms alike (the forms carry a key of their own)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from core.models import IdempotencyKey

MAX_KEY_LENGTH = 255


def request_fingerprint(payload: Any) -> str:
    encoded = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass
class IdempotentAnswer:
    status: int
    body: Any
    replayed: bool


def _oldest_live(now=None):
    return (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            "Idempotency-Key is too long.", {"Idempotency-Key": [f"At most {MAX_KEY_LENGTH} characters."]}
        )


def _answer_of(record: IdempotencyKey, fingerprint: str) -> IdempotentAnswer:
    if record.fingerprint != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used with a different request body.",
            {"Idempotency-Key": ["Use a new key for a different request."]},
        )
    return IdempotentAnswer(record.response_status, record.response_body, replayed=True)


def idempotent_replay(*, user, scope: str, key: str | None, fingerprint: str) -> IdempotentAnswer | None:
    """The stored first answer when this key already succeeded (409 for another body),
    else None. Services ask this before validating, so a retry gets the first answer
    even when what it names changed since (a dataset deleted, a model retrained)."""
    if not key:
        return None
    _check_key(key)
    record = IdempotencyKey.objects.filter(
        user=user, scope=scope, key=key, created_at__gte=_oldest_live()
    ).first()
    return None if record is None else _answer_of(record, fingerprint)


def idempotent_call(
    *,
    user,
    scope: str,
    key: str | None,
    fingerprint: str,
    call: Callable[[], tuple[int, Any]],
) -> IdempotentAnswer:
    """Run ``call`` once per (user, scope, key). A repeat with the same fingerprint gets
    the stored first answer; another fingerprint is a 409. Only successful answers are
    stored, so a request refused for lack of coins may be retried with the same key.

    The key row is inserted first, inside the same transaction as the charge: a
    concurrent duplicate blocks on the unique index until the first commits, then finds
    its answer, so two racing retries can never both charge."""
    if not key:
        status, body = call()
        return IdempotentAnswer(status, body, replayed=False)
    _check_key(key)
    with transaction.atomic():
        # An expired key that the sweep has not deleted yet is free to use again.
        IdempotencyKey.objects.filter(user=user, scope=scope, key=key, created_at__lt=_oldest_live()).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=user, scope=scope, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            return _answer_of(IdempotencyKey.objects.get(user=user, scope=scope, key=key), fingerprint)
        status, body = call()
        record.response_status = status
        record.response_body = body
        record.save(update_fields=["response_status", "response_body"])
        return IdempotentAnswer(status, body, replayed=False)


def idempotency_keys_expire(*, now=None) -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_TTL_HOURS (run by the sweep)."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=_oldest_live(now)).delete()
    return deleted

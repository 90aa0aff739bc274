"""Stored Idempotency-Keys expire after IDEMPOTENCY_KEY_TTL_HOURS: the sweep deletes
them, and until it does an expired key is not replayed."""

from datetime import timedelta

from django.utils import timezone

from core.idempotency import idempotency_keys_expire, idempotent_call, idempotent_replay
from core.models import IdempotencyKey
from operations.tasks import sweep_jobs


def _call(user, key, answer):
    return idempotent_call(user=user, scope="test", key=key, fingerprint="f", call=lambda: (201, answer))


def test_a_key_is_replayed_within_its_lifetime_and_forgotten_after(alice, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 48
    assert _call(alice, "k", {"n": 1}).replayed is False
    assert _call(alice, "k", {"n": 2}).body == {"n": 1}
    assert idempotent_replay(user=alice, scope="test", key="k", fingerprint="f").body == {"n": 1}

    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=49))

    assert idempotent_replay(user=alice, scope="test", key="k", fingerprint="f") is None
    fresh = _call(alice, "k", {"n": 3})
    assert (fresh.replayed, fresh.body) == (False, {"n": 3})
    assert IdempotencyKey.objects.count() == 1


def test_the_sweep_deletes_expired_keys_only(alice, bob, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 1
    _call(alice, "old", {})
    _call(bob, "new", {})
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(minutes=61))

    assert sweep_jobs()["idempotency_keys_deleted"] == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert idempotency_keys_expire() == 0

"""Prefer: wait holds a web thread, so it is bounded (issue 13, item 3): a replay
answers at once, and a process or a user with too many requests waiting gets its answer
at once too (202, the client polls) instead of tying up the web tier. No worker runs
here, so every job stays queued: a request that waited would take its whole wait."""

from __future__ import annotations

import time

import pytest

from core.jobs import waiting

WAIT = 8  # seconds asked for; an answer well under it did not wait


def _predict(client, model_id, row, *, key=None):
    headers = {"HTTP_PREFER": f"wait={WAIT}"}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    started = time.monotonic()
    response = client.post(
        "/api/v1/predictions/", {"model": model_id, "inputs": row}, format="json", **headers
    )
    return response, time.monotonic() - started


@pytest.fixture
def short_first_wait(settings, monkeypatch):
    """The first (paid) request waits 0.2 s only, so the test is quick."""
    real = waiting.wait_until_finished

    def brief(kind, job_id, *, seconds, fresh=False):
        return real(kind, job_id, seconds=min(seconds, 0.2), fresh=fresh)

    monkeypatch.setattr(waiting, "wait_until_finished", brief)


def test_a_replay_with_prefer_wait_answers_at_once(alice_api, classifier, row, short_first_wait, monkeypatch):
    first, _ = _predict(alice_api, classifier.pk, row, key="replay-1")
    assert first.status_code == 202
    # Any further wait would now take the whole WAIT: the replay must not wait at all.
    monkeypatch.setattr(waiting, "wait_until_finished", _must_not_wait)
    replay, seconds = _predict(alice_api, classifier.pk, row, key="replay-1")
    assert replay.status_code == 202
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert seconds < WAIT / 2


def _must_not_wait(*args, **kwargs):
    raise AssertionError("a replay waited for its job")


def test_a_process_with_every_waiting_slot_taken_answers_at_once(alice_api, bob, classifier, row, settings):
    settings.PREFER_WAIT_MAX_PER_PROCESS = 1
    with waiting._waiting_slot(bob.pk) as allowed:  # another user's request is waiting
        assert allowed
        response, seconds = _predict(alice_api, classifier.pk, row)
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert seconds < WAIT / 2


def test_one_user_cannot_take_every_waiting_slot(alice, alice_api, bob, classifier, row, settings):
    settings.PREFER_WAIT_MAX_PER_PROCESS = 3
    settings.PREFER_WAIT_MAX_PER_USER = 1
    with waiting._waiting_slot(alice.pk) as allowed:
        assert allowed
        response, seconds = _predict(alice_api, classifier.pk, row)
        assert response.status_code == 202 and seconds < WAIT / 2
        # Bob still may wait: one of the process's slots is free for him.
        with waiting._waiting_slot(bob.pk) as bob_allowed:
            assert bob_allowed


def test_slots_are_given_back_after_the_wait(alice, settings):
    settings.PREFER_WAIT_MAX_PER_PROCESS = 1
    settings.PREFER_WAIT_MAX_PER_USER = 1
    for _ in range(3):
        with waiting._waiting_slot(alice.pk) as allowed:
            assert allowed

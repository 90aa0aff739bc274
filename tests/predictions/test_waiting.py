"""Prefer: wait (core.jobs.waiting) with Redis: a waiting request wakes when the job finishes (pushed by
the service that finishes it), and times out otherwise. Without Redis it polls the
database (covered by the round trips in test_worker.py)."""

from __future__ import annotations

import threading
import time

import pytest

from core.jobs import waiting
from core.jobs.waiting import wait_until_finished
from predictions import services
from predictions.jobs import PREDICTION

REDIS_TEST_URL = "redis://127.0.0.1:6379/14"

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url(settings):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    client.flushdb()
    settings.REDIS_URL = REDIS_TEST_URL
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "name": "waiting-test"}
    yield client
    client.flushdb()


def test_a_finished_job_wakes_the_request_at_once(
    redis_url, alice, classifier, row, django_capture_on_commit_callbacks
):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    assert services.prediction_claim(prediction_id=prediction.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.prediction_succeed(
            prediction_id=prediction.pk, result_file="x.csv", results=None, scoring_seconds=0.1
        )

    started = time.monotonic()
    assert wait_until_finished(PREDICTION, prediction.pk, seconds=5, fresh=True)
    assert time.monotonic() - started < 0.5
    # The wake-up stays for a second request waiting on the same prediction.
    assert wait_until_finished(PREDICTION, prediction.pk, seconds=5, fresh=True)


@pytest.mark.django_db(transaction=True)
def test_the_request_wakes_when_another_process_finishes_the_job(redis_url, alice, classifier, row):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    services.prediction_claim(prediction_id=prediction.pk)

    def worker():
        time.sleep(0.3)
        services.prediction_fail(prediction_id=prediction.pk, error="boom")  # refunds and announces on commit

    thread = threading.Thread(target=worker)
    started = time.monotonic()
    thread.start()
    assert wait_until_finished(PREDICTION, prediction.pk, seconds=10, fresh=True)
    elapsed = time.monotonic() - started
    thread.join()
    assert 0.25 < elapsed < 3


def test_a_job_still_running_times_out(redis_url, alice, classifier, row):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    started = time.monotonic()
    assert not wait_until_finished(PREDICTION, prediction.pk, seconds=0.3)
    assert 0.25 < time.monotonic() - started < 2


def test_with_redis_a_users_waiters_are_counted_over_every_process(redis_url, alice, bob, settings):
    """Waiters in other web processes count towards the per-user bound (issue 13, item 3)."""
    settings.PREFER_WAIT_MAX_PER_USER = 2
    redis_url.set(waiting._user_key(alice.pk), 2)  # two of alice's requests wait elsewhere
    with waiting._waiting_slot(alice.pk) as allowed:
        assert not allowed
    with waiting._waiting_slot(bob.pk) as allowed:
        assert allowed
    assert int(redis_url.get(waiting._user_key(alice.pk))) == 2
    assert int(redis_url.get(waiting._user_key(bob.pk))) == 0

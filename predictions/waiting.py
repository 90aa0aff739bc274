"""``Prefer: wait=N``: answer as soon as the prediction finishes.

With Redis (REDIS_URL set) the moment a job finishes is pushed to a per-job Redis list,
and a waiting request blocks on that list (BLPOP): it wakes within a millisecond and
asks the database nothing while it waits — a one-row prediction takes tens of
milliseconds, so polling coarse enough to be cheap would add more than the job takes,
and polling fine enough would load the database with every waiting request.

Without Redis (the embedded setup, ORM broker) the waiting request polls the database
(mlservice.jobs.wait_until_finished). The database stays the truth either way: a
wake-up only says "look now", and a lost one costs at most the wait.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from mlservice.jobs import wait_until_finished
from predictions.models import Prediction

logger = logging.getLogger(__name__)

# A waiter that arrives after the push still finds the wake-up for this long.
KEY_SECONDS = 120
_clients: dict[str, object] = {}


def _key(prediction_id: int) -> str:
    return f"{settings.Q_CLUSTER.get('name', 'mlservice')}:prediction-finished:{prediction_id}"


def _redis():
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        import redis

        # One pool per process; redis-py opens new connections after a fork (workers).
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=70, socket_connect_timeout=2)
    return client


def _push(prediction_id: int) -> None:
    client = _redis()
    if client is None:
        return
    key = _key(prediction_id)
    try:
        client.pipeline(transaction=False).rpush(key, 1).expire(key, KEY_SECONDS).execute()
    except Exception as error:  # a broken Redis must not fail the job
        logger.warning("could not announce prediction %s: %s", prediction_id, error)


def announce_finished(prediction_id: int) -> None:
    """Wake the requests waiting for this prediction, once the status change that
    finished it is committed. Never raises: a missed wake-up only delays an answer."""
    transaction.on_commit(lambda: _push(prediction_id))


def _status(prediction_id: int) -> str | None:
    return Prediction.objects.filter(pk=prediction_id).values_list("status", flat=True).first()


def wait_for_prediction(prediction_id: int, *, seconds: float, fresh: bool = False) -> bool:
    """True once the prediction is (probably) finished, False after ``seconds``; the
    caller reads the prediction afterwards either way. ``fresh``: it was submitted by
    this request a moment ago, so the database is not asked first — a job that
    finishes before the wait starts has already left its wake-up in Redis."""
    client = _redis()
    if client is None:
        return wait_until_finished(
            Prediction.objects, prediction_id, seconds=seconds, finished=Prediction.FINISHED, poll=0.01
        )
    if not fresh and _status(prediction_id) in Prediction.FINISHED:
        return True
    try:
        woken = client.blpop([_key(prediction_id)], timeout=max(seconds, 0.01))
    except Exception as error:
        logger.warning("waiting on Redis failed (%s); polling the database instead", error)
        return wait_until_finished(
            Prediction.objects, prediction_id, seconds=seconds, finished=Prediction.FINISHED
        )
    if woken is None:
        return False
    # Leave the wake-up for any other request waiting on the same prediction. It is
    # pushed only after the finishing status change committed.
    _push(prediction_id)
    return True

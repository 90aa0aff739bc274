"""Waiting for a job to finish: ``Prefer: wait=N`` on the API.

With Redis (REDIS_URL set) the moment a job finishes is pushed to a per-job Redis list,
and a waiting request blocks on that list (BLPOP): it wakes within a millisecond and
asks the database nothing while it waits — a one-row prediction takes tens of
milliseconds, so polling coarse enough to be cheap would add more than the job takes,
and polling fine enough would load the database with every waiting request.

Without Redis (the embedded setup, ORM broker) the waiting request polls the database.
The database stays the truth either way: a wake-up only says "look now", and a lost
one costs at most the wait.

Waiting holds a web thread, so it is bounded (``wait_for_submission``): a replayed
submission never waits (it was not paid for again), a web process lets at most
PREFER_WAIT_MAX_PER_PROCESS requests wait at once and a user at most
PREFER_WAIT_MAX_PER_USER (over every process when Redis is configured). Beyond a bound
the request answers at once, as without ``Prefer: wait``; the client polls.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

from core.errors import InvalidInput
from core.jobs.kinds import JobKind
from core.redis import redis_client

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60
_PREFER_WAIT = re.compile(r"(?:^|[;,\s])wait\s*=\s*(\d+)(?:$|[;,\s])", re.IGNORECASE)
# A waiter that arrives after the push still finds the wake-up for this long.
KEY_SECONDS = 120


def parse_prefer_wait(header: str | None) -> int | None:
    """Seconds asked for by ``Prefer: wait=N`` (RFC 7240), capped at 60; None if absent."""
    if not header:
        return None
    match = _PREFER_WAIT.search(f" {header} ")
    if match is None:
        raise InvalidInput(
            "Prefer header not understood; use Prefer: wait=N with N from 0 to 60.",
            {"Prefer": ["Use wait=N with N from 0 to 60."]},
        )
    return min(int(match.group(1)), MAX_WAIT_SECONDS)


def _key(kind: JobKind, job_id: int) -> str:
    return f"{settings.Q_CLUSTER.get('name', 'mlservice')}:{kind.name}-finished:{job_id}"


def _push(kind: JobKind, job_id: int) -> None:
    client = redis_client()
    if client is None:
        return
    key = _key(kind, job_id)
    try:
        client.pipeline(transaction=False).rpush(key, 1).expire(key, KEY_SECONDS).execute()
    except Exception as error:  # a broken Redis must not fail the job
        logger.warning("could not announce %s %s: %s", kind.name, job_id, error)


def announce_finished(kind: JobKind, job_id: int) -> None:
    """Wake the requests waiting for this job, once the status change that finished it
    is committed. Never raises: a missed wake-up only delays an answer."""
    transaction.on_commit(lambda: _push(kind, job_id))


def _status(kind: JobKind, job_id: int) -> str | None:
    return kind.model.objects.filter(pk=job_id).values_list("status", flat=True).first()


def _poll(kind: JobKind, job_id: int, *, seconds: float, poll: float = 0.01) -> bool:
    """Poll the job's status until it is finished or ``seconds`` pass. The poll starts
    fast and backs off, so a quick job answers within milliseconds."""
    deadline = time.monotonic() + seconds
    delay = poll
    while True:
        if _status(kind, job_id) in kind.finished:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.25)


def wait_until_finished(kind: JobKind, job_id: int, *, seconds: float, fresh: bool = False) -> bool:
    """True once the job is (probably) finished, False after ``seconds``; the caller
    reads the job afterwards either way. ``fresh``: it was submitted by this request a
    moment ago, so the database is not asked first — a job that finishes before the
    wait starts has already left its wake-up in Redis."""
    client = redis_client()
    if client is None:
        return _poll(kind, job_id, seconds=seconds)
    if not fresh and _status(kind, job_id) in kind.finished:
        return True
    deadline = time.monotonic() + seconds
    # One BLPOP waits at most half the shared client's socket timeout (it is short, for
    # health checks), so a long wait is a few blocking calls, never a socket timeout.
    block = settings.HEALTH_TIMEOUT_SECONDS / 2
    try:
        while True:
            remaining = deadline - time.monotonic()
            woken = client.blpop([_key(kind, job_id)], timeout=max(min(remaining, block), 0.01))
            if woken is not None:
                break
            if deadline - time.monotonic() <= 0:
                return False
    except Exception as error:
        logger.warning("waiting on Redis failed (%s); polling the database instead", error)
        return _poll(kind, job_id, seconds=max(deadline - time.monotonic(), 0))
    # Leave the wake-up for any other request waiting on the same job. It is pushed
    # only after the finishing status change committed.
    _push(kind, job_id)
    return True


class _ProcessSlots:
    """Waiting requests in this process: in all and per user."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.by_user: Counter[int] = Counter()

    def take(self, user_id: int, *, per_user: bool) -> bool:
        with self.lock:
            if self.total >= settings.PREFER_WAIT_MAX_PER_PROCESS:
                return False
            if per_user and self.by_user[user_id] >= settings.PREFER_WAIT_MAX_PER_USER:
                return False
            self.total += 1
            self.by_user[user_id] += 1
            return True

    def give_back(self, user_id: int) -> None:
        with self.lock:
            self.total -= 1
            self.by_user[user_id] -= 1
            if self.by_user[user_id] <= 0:
                del self.by_user[user_id]


_slots = _ProcessSlots()


def _user_key(user_id: int) -> str:
    return f"{settings.Q_CLUSTER.get('name', 'mlservice')}:waiting:{user_id}"


@contextmanager
def _waiting_slot(user_id: int) -> Iterator[bool]:
    """True while this request may wait. The per-user count is shared in Redis when
    there is one (it expires, so a killed process cannot leak a slot for long)."""
    client = redis_client()
    shared = False
    if client is not None:
        key = _user_key(user_id)
        try:
            count, _ = (
                client.pipeline(transaction=False).incr(key).expire(key, MAX_WAIT_SECONDS + 10).execute()
            )
            shared = True
        except Exception as error:
            logger.warning("counting waiters in Redis failed (%s); counting in this process", error)
        if shared and count > settings.PREFER_WAIT_MAX_PER_USER:
            _give_back_shared(client, key)
            yield False
            return
    if not _slots.take(user_id, per_user=not shared):
        if shared:
            _give_back_shared(client, _user_key(user_id))
        yield False
        return
    try:
        yield True
    finally:
        _slots.give_back(user_id)
        if shared:
            _give_back_shared(client, _user_key(user_id))


def _give_back_shared(client, key: str) -> None:
    try:
        client.decr(key)
    except Exception as error:  # the key expires anyway
        logger.warning("releasing a waiter in Redis failed: %s", error)


def wait_for_submission(
    kind: JobKind, job_id: int, *, wait: int | None, user_id: int, replayed: bool
) -> bool:
    """The ``Prefer: wait`` of a submission: wait up to ``wait`` seconds for the job
    just submitted, within the bounds above. True once it is (probably) finished; False
    at once for a replay, no ``wait``, or no free waiting slot."""
    if not wait or replayed:
        return False
    with _waiting_slot(user_id) as allowed:
        if not allowed:
            logger.info("not waiting for %s %s: too many requests waiting", kind.name, job_id)
            return False
        return wait_until_finished(kind, job_id, seconds=wait, fresh=True)

"""Job plumbing shared by training and prediction: enqueue after commit, and the
``Prefer: wait=N`` poll. The state machines themselves live in each app's services."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable

from django.db import models, transaction
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.tasks import async_task

from mlservice.errors import InvalidInput

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60
_PREFER_WAIT = re.compile(r"(?:^|[;,\s])wait\s*=\s*(\d+)(?:$|[;,\s])", re.IGNORECASE)


_brokers: dict[tuple, Broker] = {}


def _broker() -> Broker:
    """This process's broker. django-q builds a new one for every task it is not given
    one for — with Redis a new client, connection pool and TCP connection each time
    (~1 ms of CPU, most of it redis-py reading its own package metadata). redis-py's
    pool is thread-safe and reconnects after a fork or a lost connection."""
    key = (os.getpid(), Conf.CLUSTER_NAME, str(Conf.REDIS), str(Conf.ORM))
    broker = _brokers.get(key)
    if broker is None:
        broker = _brokers[key] = get_broker()
    return broker


def enqueue_on_commit(
    func: str, *args, task_name: str, on_enqueued: Callable[[str], None] | None = None
) -> None:
    """Enqueue ``func(*args)`` once the current transaction commits (at once outside a
    transaction): a worker never sees a job whose row is not committed yet, and a
    rolled-back request enqueues nothing. Tasks get ids only, never objects."""

    def enqueue() -> None:
        try:
            task_id = async_task(func, *args, task_name=task_name, broker=_broker())
        except Exception:
            # The job's row is committed (and paid for): an unreachable broker must not
            # turn it into an error that the client retries and pays for again. The
            # sweep enqueues jobs still queued after QUEUED_STALE_SECONDS.
            logger.exception("could not enqueue %s (%s); the sweep will enqueue it", func, task_name)
            return
        if on_enqueued is not None:
            on_enqueued(task_id)

    transaction.on_commit(enqueue)


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


def wait_until_finished(
    queryset: models.QuerySet, pk, *, seconds: float, finished: tuple[str, ...], poll: float = 0.02
) -> bool:
    """Poll the job's status until it is one of ``finished`` or ``seconds`` pass. The
    poll starts fast and backs off, so a quick job answers within milliseconds."""
    deadline = time.monotonic() + seconds
    delay = poll
    while True:
        status = queryset.filter(pk=pk).values_list("status", flat=True).first()
        if status in finished:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.25)

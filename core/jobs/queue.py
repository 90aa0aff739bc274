"""Enqueueing tasks: after the transaction commits, through this process's one broker."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.tasks import async_task

from core.redis import redis_client

logger = logging.getLogger(__name__)


class SharedRedis(Redis):
    """django-q's Redis broker on this process's shared client (core.redis)."""

    def get_connection(self, list_key=None):
        return redis_client()


_brokers: dict[tuple, Broker] = {}


def broker() -> Broker:
    """This process's broker. django-q builds a new one for every task it is not given
    one for — with Redis a new client, connection pool and TCP connection each time
    (~1 ms of CPU, most of it redis-py reading its own package metadata)."""
    redis_url = getattr(settings, "REDIS_URL", "")
    key = (os.getpid(), Conf.CLUSTER_NAME, redis_url, str(Conf.ORM))
    found = _brokers.get(key)
    if found is None:
        found = _brokers[key] = SharedRedis(list_key=Conf.CLUSTER_NAME) if redis_url else get_broker()
    return found


def enqueue_on_commit(
    func: str, *args, task_name: str, on_enqueued: Callable[[str], None] | None = None
) -> None:
    """Enqueue ``func(*args)`` once the current transaction commits (at once outside a
    transaction): a worker never sees a job whose row is not committed yet, and a
    rolled-back request enqueues nothing. Tasks get ids only, never objects."""

    def enqueue() -> None:
        try:
            task_id = async_task(func, *args, task_name=task_name, broker=broker())
        except Exception:
            # The job's row is committed (and paid for): an unreachable broker must not
            # turn it into an error that the client retries and pays for again. The
            # sweep enqueues jobs still queued after QUEUED_STALE_SECONDS.
            logger.exception("could not enqueue %s (%s); the sweep will enqueue it", func, task_name)
            return
        if on_enqueued is not None:
            on_enqueued(task_id)

    transaction.on_commit(enqueue)

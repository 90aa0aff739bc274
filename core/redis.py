"""This process's one Redis client, shared by enqueueing, job wake-ups and health
checks. redis-py's connection pool is thread-safe and opens new connections after a
fork (workers), so one client per process serves every thread."""

from __future__ import annotations

import os

import redis
from django.conf import settings

_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_client() -> redis.Redis | None:
    """The client for REDIS_URL, or None when the service runs without Redis.

    Every command gives up after HEALTH_TIMEOUT_SECONDS (a network that drops packets
    must not hang a request or a health check); blocking waits are made in slices
    shorter than that (``core.jobs.waiting``)."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        timeout = settings.HEALTH_TIMEOUT_SECONDS
        client = _clients[key] = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    return client

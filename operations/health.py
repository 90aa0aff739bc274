"""``/healthz``: is the service able to do its work right now?

Four checks, each bounded in time: the database answers ``SELECT 1``; the broker
answers (Redis: PING and the queue length, with socket timeouts; ORM broker: the
queue length, one COUNT); at least one qcluster of our queue is alive; and the file
storage answers (S3: one listing of the bucket's top level, HEALTH_TIMEOUT_SECONDS,
no retry; local disk: MEDIA_ROOT is writable).

A cluster is alive when its django-q status can be read from the broker: every
cluster's sentinel rewrites it every half second with a 3-second expiry (in Redis
for the Redis broker, in Django's cache for the ORM broker), so it disappears within
seconds of a cluster dying, whatever it was doing. This is more reliable than a
heartbeat task, which would wait behind a long queue and report a busy cluster dead.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django_q.conf import Conf
from django_q.signing import BadSignature, SignedPackage

from core.jobs.queue import broker
from core.storage import storage_check

logger = logging.getLogger(__name__)


def broker_for_checks():
    """This process's broker (core.jobs.queue): with Redis, on the shared client whose
    commands give up after HEALTH_TIMEOUT_SECONDS."""
    return broker()


def broker_kind(broker) -> str:
    return "orm" if type(broker).__name__ == "ORM" else "redis"


@dataclass
class CheckResult:
    ok: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "fail", **self.details}


def _failure(what: str, error: BaseException, started: float) -> CheckResult:
    # The exception's text can name hosts and users: it goes to the log, while the
    # public answer names only the part and the kind of error.
    logger.warning("health check %s failed: %s: %s", what, type(error).__name__, error)
    return CheckResult(
        ok=False,
        details={"error": f"{what} unavailable ({type(error).__name__})", "ms": _ms_since(started)},
    )


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def check_database() -> CheckResult:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return _failure("database", error, started)
    return CheckResult(ok=True, details={"ms": _ms_since(started)})


def check_broker(broker) -> CheckResult:
    started = time.monotonic()
    try:
        if broker_kind(broker) == "redis":
            broker.connection.ping()
        depth = broker.queue_size()
    except Exception as error:
        return _failure("broker", error, started)
    return CheckResult(
        ok=True, details={"kind": broker_kind(broker), "queue_depth": depth, "ms": _ms_since(started)}
    )


@dataclass(frozen=True)
class ClusterSeen:
    cluster_id: str
    host: str
    status: str
    workers: int
    age_seconds: float


def _status_packages(broker) -> list:
    """The signed status packages of the clusters of our queue, read without writing
    (django-q's own reader rewrites its list of keys on every call)."""
    key = f"django_q:{settings.Q_CLUSTER.get('name', 'default')}:cluster"
    if broker_kind(broker) == "redis":
        keys = list(broker.connection.scan_iter(match=f"{key}:*", count=100))
        return [package for package in broker.connection.mget(keys) if package] if keys else []
    # The ORM broker keeps them in Django's cache, under a list of their keys.
    cache = broker.cache
    if cache is None:
        return []
    keys = cache.get(key) or []
    return [package for package in cache.get_many(keys).values() if package]


def live_clusters(broker) -> list[ClusterSeen]:
    """The qclusters of our queue whose status is fresh and not stopped. Raises when
    the broker (or, for the ORM broker, the cache) cannot be read."""
    now = timezone.now()
    seen = []
    for package in _status_packages(broker):
        try:
            stat = SignedPackage.loads(package)
        except BadSignature:  # another site's cluster sharing the Redis database
            continue
        age = (now - stat.timestamp).total_seconds()
        if str(stat.status) == str(Conf.STOPPED) or age > settings.HEALTH_WORKER_MAX_AGE:
            continue
        seen.append(
            ClusterSeen(
                cluster_id=str(stat.cluster_id),
                host=stat.host,
                status=str(stat.status),
                workers=len(stat.workers),
                age_seconds=max(age, 0.0),
            )
        )
    return seen


def check_worker(broker) -> CheckResult:
    started = time.monotonic()
    try:
        clusters = live_clusters(broker)
    except Exception as error:
        return _failure("worker status", error, started)
    if not clusters:
        return CheckResult(
            ok=False,
            details={
                "error": f"no qcluster seen in the last {settings.HEALTH_WORKER_MAX_AGE} s",
                "clusters": 0,
                "ms": _ms_since(started),
            },
        )
    return CheckResult(
        ok=True,
        details={
            "clusters": len(clusters),
            "workers": sum(cluster.workers for cluster in clusters),
            "last_seen_seconds": round(min(cluster.age_seconds for cluster in clusters), 1),
            "ms": _ms_since(started),
        },
    )


def check_storage() -> CheckResult:
    started = time.monotonic()
    try:
        details = storage_check(timeout=settings.HEALTH_TIMEOUT_SECONDS)
    except Exception as error:
        return _failure("storage", error, started)
    return CheckResult(ok=True, details={**details, "ms": _ms_since(started)})


def run_checks() -> dict[str, CheckResult]:
    database = check_database()
    storage = check_storage()
    try:
        broker = broker_for_checks()
    except Exception as error:  # a malformed broker setting
        failed = _failure("broker", error, time.monotonic())
        return {"database": database, "broker": failed, "worker": failed, "storage": storage}
    broker_result = check_broker(broker)
    if not broker_result.ok and broker_kind(broker) == "redis":
        # The workers' status lives in that same Redis: asking would only wait for a
        # second timeout.
        worker_result = CheckResult(ok=False, details={"error": "unknown: the broker cannot be reached"})
    else:
        worker_result = check_worker(broker)
    return {"database": database, "broker": broker_result, "worker": worker_result, "storage": storage}


@never_cache
@require_safe
def healthz(request):
    """200 ``{"status": "ok", ...}`` when every check passes; 503 with
    ``"failing": [...]`` naming the parts that did not."""
    checks = run_checks()
    failing = [name for name, result in checks.items() if not result.ok]
    body: dict[str, Any] = {
        "status": "fail" if failing else "ok",
        "checks": {name: result.as_dict() for name, result in checks.items()},
    }
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)

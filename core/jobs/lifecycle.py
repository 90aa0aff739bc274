"""The job lifecycle, the same for every kind::

    queued ──claim──▶ running ──succeed──▶ succeeded
       │                 └──────fail─────▶ failed   (refunded)
       └──cancel─▶ canceled (refunded)     └─ the sweep fails stuck or lost jobs

Every move is one conditional UPDATE from the state the caller believes the job is
in, so two paths racing for a job (a task delivered twice, the task and the sweep, the
task and a cancel or delete) cannot both win. The move that ends a job unpaid refunds
it in the same transaction, so a job is refunded at most once.

A job is *queued* while its status is ``kind.queued`` and no worker has started it
(``started_at`` is empty), *running* once a claim set ``started_at``: a kind whose
visible status does not change on claim (a dataset stays "profiling") still gets a
real claim.

A kind that declares ``counts`` is also counted by each move, in its transaction
(core.jobs.counts): running totals that /metrics reads instead of the job tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.errors import Throttled
from core.job_events import job_status_moved
from core.jobs.counts import count_claimed, count_claimed_batch, count_finished, count_submitted
from core.jobs.kinds import JobKind, registered
from core.jobs.queue import enqueue_on_commit
from core.jobs.waiting import announce_finished
from core.logs import job_event
from core.queries import CompiledQuery

logger = logging.getLogger(__name__)

# The longest error text a job keeps (the readable part comes first).
ERROR_TEXT_LIMIT = 4000
# django-q kills a task at TASK_TIMEOUT; a job still running this much later lost its
# worker (killed, or the machine died) and is failed and refunded by the sweep.
RUNNING_GRACE_SECONDS = 60
# A job still queued is enqueued again after QUEUED_STALE_SECONDS × attempts (a growing
# wait, so a long backlog is not flooded with copies); after this many enqueues it is
# failed and refunded instead of waiting forever.
MAX_ENQUEUE_ATTEMPTS = 3

QUEUED, RUNNING = "queued", "running"
# Seconds a client over MAX_ACTIVE_JOBS_PER_USER is asked to wait before trying again.
ACTIVE_JOBS_RETRY_AFTER = 30


def _in_state(kind: JobKind, state: str) -> Q:
    if state == QUEUED:
        return Q(status=kind.queued, started_at__isnull=True)
    if state == RUNNING:
        return Q(status=kind.running, started_at__isnull=False)
    raise ValueError(f"a job is queued or running, not {state!r}")


def _jobs(kind: JobKind, *states: str, **match: Any) -> QuerySet:
    condition = Q()
    for state in states:
        condition |= _in_state(kind, state)
    return kind.model.objects.filter(condition, **match)


# The events a kind's ``on_event`` hears of (webhooks name them the same).
STARTED_EVENT, COMPLETED_EVENT = "start", "completed"


def _tell(kind: JobKind, job_id: int, event: str) -> None:
    if kind.on_event is not None:
        kind.on_event(job_id, event)


def error_text(error: str) -> str:
    return error[:ERROR_TEXT_LIMIT]


def _status_of(kind: JobKind, state: str) -> str:
    return kind.queued if state == QUEUED else kind.running


def job_enqueue(kind: JobKind, job_id: int, *, attempt: int = 1, deferral: int = 0) -> None:
    """Enqueue the job's task once the current transaction commits. ``deferral``: the
    task is put back for a fairer order (core.jobs.fairness), named ``…-deferred<n>``."""
    name = f"{kind.name}-{job_id}-{attempt}" + (f"-deferred{deferral}" if deferral else "")
    enqueue_on_commit(kind.task, job_id, task_name=name)


def job_submitted(kind: JobKind, job: Any) -> None:
    """Check the owner's bound and count a job just created, in the transaction that
    creates it (after its charge, so every transaction raises the ledger's counters
    before the jobs'). Raises Throttled (429) — rolling back the charge and the job —
    when the owner would have more than MAX_ACTIVE_JOBS_PER_USER jobs queued or running."""
    check_active_jobs(owner_id=job.owner_id)
    count_submitted(kind, job)


def _active_jobs_query(owner_id: int) -> QuerySet:
    querysets = [
        _jobs(kind, QUEUED, RUNNING, owner_id=owner_id).order_by().values("pk") for kind in registered()
    ]
    return querysets[0].union(*querysets[1:], all=True)


def registered_names() -> tuple[str, ...]:
    """What a query over every registered kind is compiled for (core.queries)."""
    return tuple(kind.name for kind in registered())


# Checked on every submission: compiled once (the union over every kind).
_ACTIVE_JOBS = CompiledQuery(
    _active_jobs_query, "owner_id", wrap="SELECT COUNT(*) FROM ({}) active", version=registered_names
)


def active_jobs(*, owner_id: int) -> int:
    """The owner's jobs queued or running, over every kind, in one query."""
    if not registered():
        return 0
    return _ACTIVE_JOBS.rows(owner_id=owner_id)[0][0]


def check_active_jobs(*, owner_id: int) -> None:
    """The per-user bound on queued + running jobs. Called after the charge locked the
    owner's coin account, so two submissions racing for the last place are counted one
    after the other (a free model's submission takes no lock and may pass by one)."""
    limit = settings.MAX_ACTIVE_JOBS_PER_USER
    active = active_jobs(owner_id=owner_id)
    if active > limit:
        message = (
            f"You have {limit} jobs queued or running, the most one account may have at once; "
            "wait for some to finish (or cancel some), then try again."
        )
        raise Throttled(
            message,
            {"non_field_errors": [message]},
            active_jobs=active - 1,
            limit=limit,
            retry_after=ACTIVE_JOBS_RETRY_AFTER,
        )


def job_claim(kind: JobKind, job_id: int, *, created_at: datetime | None = None, **fields: Any) -> bool:
    """queued → running for this worker. False when the job is not queued any more
    (claimed by a twin delivery, canceled, deleted, finished): do nothing then.
    ``created_at``: the job's, when the caller has read it (saves reading it again)."""
    now = timezone.now()
    with transaction.atomic():
        moved = _jobs(kind, QUEUED, pk=job_id, **kind.live).update(
            status=kind.running, started_at=now, **fields
        )
        if moved:
            count_claimed(kind, job_id, started_at=now, created_at=created_at)
            _tell(kind, job_id, STARTED_EVENT)
    if moved:
        job_status_moved(kind.name, job_id, kind.queued, kind.running)
    return bool(moved)


def job_claim_batch(kind: JobKind, *, limit: int, match: dict[str, Any], **fields: Any) -> list[int]:
    """Claim up to ``limit`` more queued jobs matching ``match``, oldest first, for a
    worker that runs them together with one it claimed: each moves queued → running
    as job_claim would move it (counted, its ``start`` told). Jobs another worker is
    claiming at that moment are skipped, never waited for. The ids claimed."""
    if limit <= 0:
        return []
    now = timezone.now()
    with transaction.atomic():
        queued = _jobs(kind, QUEUED, **kind.live, **match).order_by("pk").select_for_update(skip_locked=True)
        found = dict(queued.values_list("pk", "created_at")[:limit])
        if not found:
            return []
        moved = _jobs(kind, QUEUED, pk__in=found, **kind.live).update(
            status=kind.running, started_at=now, **fields
        )
        if moved != len(found):  # a database without row locks (SQLite) serialises writers instead
            ours = set(_jobs(kind, RUNNING, pk__in=found, started_at=now).values_list("pk", flat=True))
            found = {pk: created for pk, created in found.items() if pk in ours}
        count_claimed_batch(kind, started_at=now, created=list(found.values()))
        for job_id in found:
            _tell(kind, job_id, STARTED_EVENT)
    for job_id in found:
        job_status_moved(kind.name, job_id, kind.queued, kind.running)
    return list(found)


def job_progress(kind: JobKind, job_id: int, **fields: Any) -> bool:
    """Record progress; False when the job is no longer running (the sweep gave up on
    it, or it was deleted), so the worker can stop."""
    return bool(_jobs(kind, RUNNING, pk=job_id, **kind.live).update(**fields))


def job_succeed(
    kind: JobKind, job_id: int, *, then=None, counters: Mapping[str, int] | None = None, **fields: Any
) -> bool:
    """running → succeeded with ``fields``; ``then()`` runs in the same transaction.
    ``counters`` (core.counters) are raised with the job's own, in the same statement.
    False (nothing written) when the job had been failed meanwhile: it was refunded,
    so its late result must not be kept."""
    now = timezone.now()
    with transaction.atomic():
        moved = _jobs(kind, RUNNING, pk=job_id, **kind.live).update(
            status=kind.succeeded, finished_at=now, error="", **fields
        )
        if moved:
            if then is not None:
                then()
            announce_finished(kind, job_id)
            _tell(kind, job_id, COMPLETED_EVENT)
            count_finished(kind, job_id, status=kind.succeeded, finished_at=now, extra=counters)
    if moved:
        job_status_moved(kind.name, job_id, kind.running, kind.succeeded)
    return bool(moved)


def _end_unpaid(
    kind: JobKind,
    job_id: int,
    *,
    to_status: str,
    states: tuple[str, ...],
    outcome: str,
    match: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    now = timezone.now()
    with transaction.atomic():
        moved = _jobs(kind, *states, pk=job_id, **(match or {})).update(
            status=to_status, finished_at=now, **fields
        )
        if moved:
            if kind.refund is not None:
                kind.refund(job_id, f"Refund: {kind.noun.format(id=job_id)} {outcome}")
            announce_finished(kind, job_id)
            _tell(kind, job_id, COMPLETED_EVENT)
            # After the refund: the ledger's counters are raised first in every transaction.
            count_finished(kind, job_id, status=to_status, finished_at=now)
    if moved:
        from_status = "/".join(_status_of(kind, state) for state in states)
        job_status_moved(kind.name, job_id, from_status, to_status)
    return bool(moved)


def job_fail(
    kind: JobKind,
    job_id: int,
    *,
    error: str,
    states: tuple[str, ...] = (RUNNING,),
    match: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move the job from one of ``states`` (and matching ``match``) to failed with
    ``error`` and ``fields``, and refund it, in one transaction. False (and no refund)
    when it had moved on already."""
    return _end_unpaid(
        kind,
        job_id,
        to_status=kind.failed,
        states=states,
        outcome="failed",
        match=match,
        error=error_text(error),
        **fields,
    )


def job_cancel(
    kind: JobKind, job_id: int, *, error: str, states: tuple[str, ...] = (QUEUED,), **fields: Any
) -> bool:
    """queued → canceled and refunded. False when a worker has started it (or it
    finished): a running job is paid for and runs to its end — unless the kind stops
    on request (an experiment's worker cancels its own job with ``states=(RUNNING,)``
    after the trial it was running; a training is canceled with ``(QUEUED, RUNNING)``
    and its worker stops at its next progress report)."""
    assert kind.canceled is not None, f"{kind.name} jobs cannot be canceled"
    return _end_unpaid(
        kind,
        job_id,
        to_status=kind.canceled,
        states=states,
        outcome="canceled",
        error=error_text(error),
        **fields,
    )


# --- The sweep -------------------------------------------------------------------------------


@dataclass
class SweepReport:
    failed_running: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed_queued: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "failed_running": self.failed_running,
            "requeued": self.requeued,
            "failed_queued": self.failed_queued,
        }

    def __bool__(self) -> bool:
        return bool(self.failed_running or self.requeued or self.failed_queued)

    def __str__(self) -> str:
        return (
            f"failed {len(self.failed_running)} stuck running, re-enqueued {len(self.requeued)}, "
            f"failed {len(self.failed_queued)} never started"
        )


def job_sweep(kind: JobKind, *, now=None) -> SweepReport:
    """Make sure no job of this kind stays queued or running forever.

    (a) running past the task timeout (+ RUNNING_GRACE_SECONDS): its worker died →
        failed and refunded.
    (b) queued for QUEUED_STALE_SECONDS × attempts since it was last enqueued: its task
        may be lost (Redis keeps no delivery receipts; a web process may die between
        commit and enqueue) → enqueued again; a copy that arrives late finds the job
        claimed and does nothing. After MAX_ENQUEUE_ATTEMPTS → failed and refunded.
    """
    now = now or timezone.now()
    report = SweepReport()
    timeout = timedelta(seconds=settings.TASK_TIMEOUT + RUNNING_GRACE_SECONDS)
    stuck_error = kind.stuck_message.format(minutes=round(timeout.total_seconds() / 60))
    for job_id in _jobs(kind, RUNNING, started_at__lt=now - timeout).values_list("pk", flat=True):
        if job_fail(kind, job_id, error=stuck_error):
            report.failed_running.append(job_id)
            job_event(
                kind.name,
                job_id,
                "swept",
                from_status=kind.running,
                to_status=kind.failed,
                level=logging.WARNING,
            )

    stale = timedelta(seconds=settings.QUEUED_STALE_SECONDS)
    waiting = _jobs(kind, QUEUED).filter(
        Q(enqueued_at__lt=now - stale) | Q(enqueued_at__isnull=True, created_at__lt=now - stale)
    )
    for job_id, attempts, enqueued_at, created_at in waiting.values_list(
        "pk", "attempts", "enqueued_at", "created_at"
    ):
        if now - (enqueued_at or created_at) < stale * max(attempts, 1):
            continue
        if attempts >= MAX_ENQUEUE_ATTEMPTS:
            error = kind.never_started_message.format(attempts=attempts)
            if job_fail(kind, job_id, error=error, states=(QUEUED,), match={"attempts": attempts}):
                report.failed_queued.append(job_id)
                job_event(
                    kind.name,
                    job_id,
                    "swept",
                    from_status=kind.queued,
                    to_status=kind.failed,
                    level=logging.WARNING,
                )
            continue
        with transaction.atomic():
            # Conditional on what we read: a worker that claimed it meanwhile wins.
            moved = _jobs(kind, QUEUED, pk=job_id, attempts=attempts, **kind.live).update(
                attempts=F("attempts") + 1, enqueued_at=now
            )
            if moved:
                job_enqueue(kind, job_id, attempt=attempts + 1)
                report.requeued.append(job_id)
                job_event(kind.name, job_id, "requeued", attempts=attempts + 1)
    if report:
        logger.warning("%s sweep: %s", kind.name, report)
    return report

"""Running totals of jobs, kept at the moment each job moves, for /metrics.

A kind that declares ``JobKind.counts`` is counted by the lifecycle itself (and at
creation by the one ``job_submitted`` call its app makes), inside the transaction of
the move: a move that is rolled back counts nothing, and a move that loses a race
(``moved == 0``) is not counted. A scrape then reads a few hundred counter rows
instead of aggregating every job ever run.

Counters (core.counters.counter_name), all labelled with ``kind`` first:

* ``jobs_submitted{kind,<labels>}`` and ``jobs_finished{kind,<labels>,status}``;
* ``jobs_succeeded_<total>{kind,<labels>}``: e.g. the rows scored by succeeded predictions;
* ``job_duration{kind,status,le}`` (jobs whose started → finished fell in that bucket,
  not cumulative; ``le=+Inf`` above every bound) and ``job_duration_ms{kind,status}``;
* ``job_queue_wait{kind,le}`` and ``job_queue_wait_ms{kind}`` (created → started).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import models

from core.counters import counter_name, counters_add
from core.jobs.kinds import JobCounts, JobKind

JOBS_SUBMITTED = "jobs_submitted"
JOBS_FINISHED = "jobs_finished"
JOBS_SUCCEEDED = "jobs_succeeded_"  # + the total's name
JOB_DURATION = "job_duration"
JOB_DURATION_MS = "job_duration_ms"
JOB_QUEUE_WAIT = "job_queue_wait"
JOB_QUEUE_WAIT_MS = "job_queue_wait_ms"
ABOVE_EVERY_BOUND = "+Inf"


def bucket_label(elapsed: timedelta, bounds: Iterable[float]) -> str:
    """The "le" of the first bucket ``elapsed`` fits in (a bound is inclusive)."""
    for bound in bounds:
        if elapsed <= timedelta(seconds=bound):
            return repr(float(bound))
    return ABOVE_EVERY_BOUND


def _elapsed(start: datetime, end: datetime) -> timedelta:
    # Never negative: the two times may come from two machines whose clocks differ.
    return max(end - start, timedelta(0))


def _milliseconds(elapsed: timedelta) -> int:
    return round(elapsed.total_seconds() * 1000)


def _labels(counts: JobCounts, read: Mapping[str, Any]) -> dict[str, Any]:
    return {label: read[path] for label, path in counts.labels.items()}


def _attribute(job: models.Model, path: str) -> Any:
    value: Any = job
    for name in path.split("__"):
        value = getattr(value, name)
    return value


def count_submitted(kind: JobKind, job: models.Model) -> None:
    """A new job of ``kind``, in the transaction that creates it. The labels are read
    from the instance (its foreign keys are loaded already): no query but the UPDATE."""
    if kind.counts is None:
        return
    labels = {label: _attribute(job, path) for label, path in kind.counts.labels.items()}
    counters_add({counter_name(JOBS_SUBMITTED, kind=kind.name, **labels): 1})


def count_claimed(
    kind: JobKind, job_id: int, *, started_at: datetime, created_at: datetime | None = None
) -> None:
    """The queue wait of a job a worker just claimed (``created_at`` is read unless given)."""
    if kind.counts is None:
        return
    if created_at is None:
        created_at = kind.model.objects.filter(pk=job_id).values_list("created_at", flat=True).get()
    count_claimed_batch(kind, started_at=started_at, created=[created_at])


def count_claimed_batch(kind: JobKind, *, started_at: datetime, created: list[datetime]) -> None:
    """The queue waits of jobs claimed together (their ``created`` times), in one statement."""
    if kind.counts is None or not created:
        return
    increments: dict[str, int] = {}
    for created_at in created:
        waited = _elapsed(created_at, started_at)
        bucket = counter_name(
            JOB_QUEUE_WAIT, kind=kind.name, le=bucket_label(waited, kind.counts.queue_wait_buckets)
        )
        total = counter_name(JOB_QUEUE_WAIT_MS, kind=kind.name)
        increments[bucket] = increments.get(bucket, 0) + 1
        increments[total] = increments.get(total, 0) + _milliseconds(waited)
    counters_add(increments)


def count_finished(
    kind: JobKind, job_id: int, *, status: str, finished_at: datetime, extra: Mapping[str, int] | None = None
) -> None:
    """A job that just ended with ``status``: one read of the job (its labels, when it
    started, its totals), then the counters, ``extra`` ones included."""
    counts = kind.counts
    if counts is None:
        if extra:
            counters_add(extra)
        return
    totals = counts.success_totals if status == kind.succeeded else {}
    read = (
        kind.model.objects.filter(pk=job_id)
        .values("started_at", *counts.labels.values(), *totals.values())
        .get()
    )
    labels = _labels(counts, read)
    status = str(status)
    increments = {counter_name(JOBS_FINISHED, kind=kind.name, **labels, status=status): 1}
    for total, path in totals.items():
        increments[counter_name(JOBS_SUCCEEDED + total, kind=kind.name, **labels)] = read[path] or 0
    if read["started_at"] is not None:  # a job canceled or failed before it started has no duration
        took = _elapsed(read["started_at"], finished_at)
        bucket = bucket_label(took, counts.duration_buckets)
        increments[counter_name(JOB_DURATION, kind=kind.name, status=status, le=bucket)] = 1
        increments[counter_name(JOB_DURATION_MS, kind=kind.name, status=status)] = _milliseconds(took)
    counters_add({**increments, **(extra or {})})

"""A fair order between users. The broker is one first-in-first-out queue, so one
user's backlog would make everyone else wait behind it: 20 queued trainings ahead of
another user's one-row prediction. Instead, when a worker takes a task whose owner
already has a job running while another user with nothing running has a job queued,
the task goes back to the end of the queue (behind that other user's job) and the
worker takes the next one. So every user's first job starts before anyone's second,
whatever was submitted first; a user alone on the service is never slowed.

A task is put back at most MAX_DEFERRALS times (counted in the shared cache), so a
waiting job whose own task was lost (the sweep enqueues it again later) cannot make
other tasks circle for long; after that it runs where it stands. Applied where a
worker takes a task from the queue (``defer_for_fairness`` at the top of each task
function), never to a job run inline (an experiment's winner)."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import IntegerField, QuerySet, Value
from django.utils import timezone

from core.jobs.kinds import JobKind, registered
from core.jobs.lifecycle import QUEUED, RUNNING, _jobs, job_enqueue, registered_names
from core.logs import job_event
from core.queries import CompiledQuery

MAX_DEFERRALS = 3
# How long the cache remembers a job's deferrals (longer than any queue wait).
DEFERRALS_KEPT_SECONDS = 6 * 3600


def _owners_query() -> QuerySet:
    """(owner, 1) for every owner with a job running, (owner, 0) for every owner with a
    job queued, over every kind: one row per pair."""
    parts = []
    for kind in registered():
        for state, jobs in ((1, _jobs(kind, RUNNING)), (0, _jobs(kind, QUEUED, **kind.live))):
            parts.append(
                jobs.order_by()
                .annotate(running=Value(state, IntegerField()))
                .values_list("owner_id", "running")
            )
    return parts[0].union(*parts[1:])


# Read before every task a worker takes: compiled once (core.queries).
_OWNERS = CompiledQuery(_owners_query, version=registered_names)
_QUEUED_JOB: dict[str, CompiledQuery] = {}


def queued_job(kind: JobKind, job_id: int) -> tuple[int, int] | None:
    """The owner and enqueue attempts of the job, if it is still queued (one compiled
    statement: also a task's cheap first look at its job)."""
    query = _QUEUED_JOB.get(kind.name)
    if query is None:
        query = _QUEUED_JOB.setdefault(
            kind.name,
            CompiledQuery(
                lambda job_id: _jobs(kind, QUEUED, pk=job_id).values_list("owner_id", "attempts"), "job_id"
            ),
        )
    rows = query.rows(job_id=job_id)
    return rows[0] if rows else None


def _another_user_waits(owner: int) -> bool:
    """Has ``owner`` a job running while an owner with nothing running has a job queued
    (of any kind)?"""
    running, queued = set(), set()
    for owner_id, is_running in _OWNERS.rows():
        (running if is_running else queued).add(owner_id)
    return owner in running and bool(queued - running)


def defer_for_fairness(kind: JobKind, job_id: int, *, found: tuple[int, int] | None = None) -> bool:
    """True when the task was put back at the end of the queue for another user's
    job: the task must then return at once. False: go on with this job. ``found``:
    queued_job's answer, when the task has read it already."""
    found = found or queued_job(kind, job_id)
    if found is None:
        return False  # not queued any more: the task's own claim will say so
    owner, attempts = found
    if not _another_user_waits(owner):
        return False
    key = f"fairness:deferred:{kind.name}:{job_id}"
    deferrals = cache.get(key, 0)
    if deferrals >= MAX_DEFERRALS:
        return False
    # Enqueued afresh, so the sweep does not take it for lost and enqueue a copy.
    if not _jobs(kind, QUEUED, pk=job_id).update(enqueued_at=timezone.now()):
        return False
    cache.set(key, deferrals + 1, DEFERRALS_KEPT_SECONDS)
    job_enqueue(kind, job_id, attempt=attempts, deferral=deferrals + 1)
    job_event(kind.name, job_id, "deferred", deferrals=deferrals + 1)
    return True

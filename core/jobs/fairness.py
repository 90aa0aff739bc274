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
from django.utils import timezone

from core.jobs.kinds import JobKind, registered
from core.jobs.lifecycle import QUEUED, RUNNING, _jobs, job_enqueue
from core.logs import job_event

MAX_DEFERRALS = 3
# How long the cache remembers a job's deferrals (longer than any queue wait).
DEFERRALS_KEPT_SECONDS = 6 * 3600


def _running_owners() -> set[int]:
    querysets = [_jobs(kind, RUNNING).order_by().values_list("owner_id", flat=True) for kind in registered()]
    return set(querysets[0].union(*querysets[1:], all=True))


def _another_user_waits(running: set[int]) -> bool:
    """Has an owner with nothing running a job queued (of any kind)?"""
    querysets = [
        _jobs(kind, QUEUED, **kind.live).exclude(owner_id__in=running).order_by().values_list("pk")
        for kind in registered()
    ]
    # Only the union may be sliced: SQLite refuses LIMIT inside a compound statement.
    return bool(list(querysets[0].union(*querysets[1:], all=True)[:1]))


def defer_for_fairness(kind: JobKind, job_id: int) -> bool:
    """True when the task was put back at the end of the queue for another user's
    job: the task must then return at once. False: go on with this job."""
    found = _jobs(kind, QUEUED, pk=job_id).values_list("owner_id", "attempts").first()
    if found is None:
        return False  # not queued any more: the task's own claim will say so
    owner, attempts = found
    running = _running_owners()
    if owner not in running or not _another_user_waits(running):
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

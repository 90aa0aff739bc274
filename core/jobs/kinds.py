"""What a job kind declares: its model, its task, its statuses and how it is refunded.
Each app registers its kinds once at import (``register``); the lifecycle, the sweep
and the job log lines read them from here, so the base layer never imports an app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models

# Upper bounds (seconds) of the histogram buckets, as Prometheus' "le".
SHORT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LONG_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


@dataclass(frozen=True)
class JobCounts:
    """What the lifecycle counts for a kind, at the moment each job moves, in shared
    counters (core.jobs.counts): jobs submitted and finished (by status) under these
    ``labels``, the ``success_totals`` of the jobs that succeeded, and histograms of
    the queue wait (created → started) and of the duration (started → finished)."""

    # Label → the job's field that gives its value, e.g. {"model": "model_id"} or
    # {"algorithm": "algorithm__key"}.
    labels: dict[str, str] = field(default_factory=dict)
    # Total → an integer field of the job, added up over succeeded jobs: {"rows": "rows"}.
    success_totals: dict[str, str] = field(default_factory=dict)
    duration_buckets: tuple[float, ...] = SHORT_BUCKETS
    queue_wait_buckets: tuple[float, ...] = SHORT_BUCKETS


@dataclass(frozen=True)
class JobKind:
    name: str  # in log lines and metrics: "prediction", "training", "dataset_profile"
    model_label: str  # "predictions.Prediction": the model whose rows are the jobs
    task: str  # dotted path of the task function; it receives the job's id only
    noun: str  # how a refund memo names one job, with {id}: "prediction #{id}"
    queued: str = "queued"
    running: str = "running"
    succeeded: str = "succeeded"
    failed: str = "failed"
    canceled: str | None = None
    # Extra conditions for a job to be claimable or to succeed (e.g. not deleted).
    live: dict[str, Any] = field(default_factory=dict)
    # Undo the job's charge; None for free kinds. Called inside the transaction that
    # fails or cancels the job, so a job is refunded at most once.
    refund: Callable[[int, str], object] | None = None
    # What the sweep writes on a job it gives up on; {minutes} and {attempts} are filled in.
    stuck_message: str = "The job stopped responding (no result after {minutes} minutes)."
    never_started_message: str = "No worker started the job after {attempts} attempts."
    # Running totals for /metrics; None: the kind's jobs are not counted.
    counts: JobCounts | None = None
    # Told of the job's events, inside the transaction of the move: "start" by the claim,
    # "completed" by the move that ends the job (succeeded, failed or canceled). The app
    # records its webhooks here; it must not raise (a job never fails for it).
    on_event: Callable[[int, str], None] | None = None

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def finished(self) -> tuple[str, ...]:
        return tuple(s for s in (self.succeeded, self.failed, self.canceled) if s is not None)


_kinds: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    _kinds[kind.name] = kind
    return kind


def kind_for_task(task: str) -> JobKind | None:
    return next((kind for kind in _kinds.values() if kind.task == task), None)


def registered() -> list[JobKind]:
    return list(_kinds.values())

"""After the reliability tests' load: ``settle`` waits until every prediction has
finished (running the sweep with its clock advanced when nothing moves), and
``money_check`` proves each was charged once and refunded only if it did not succeed,
and that the books balance.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest


def finished_count(ids: list[int]) -> int:
    from predictions.models import Prediction

    return Prediction.objects.filter(pk__in=ids, status__in=Prediction.FINISHED).count()


def settle(ids: list[int], *, timeout: float = 120.0, quiet_seconds: float = 3.0) -> dict[str, int]:
    """Wait until every prediction in ``ids`` has finished. Whenever nothing has moved
    for ``quiet_seconds``, run the sweep with its clock advanced past its thresholds
    (instead of waiting the real 31 minutes): stuck ``running`` jobs are failed and
    refunded, ``queued`` jobs whose task was lost are enqueued again. Returns what the
    sweep did, summed."""
    from django.conf import settings
    from django.db import connections
    from django.utils import timezone

    from core.jobs.lifecycle import MAX_ENQUEUE_ATTEMPTS, RUNNING_GRACE_SECONDS
    from predictions.models import Prediction
    from predictions.services import prediction_sweep

    totals = {"sweeps": 0, "failed_running": 0, "requeued": 0, "failed_queued": 0}
    deadline = time.monotonic() + timeout
    last_state = None
    last_change = time.monotonic()
    while True:
        connections.close_all()  # a restarted PostgreSQL left this process a dead connection
        state = sorted(
            Prediction.objects.filter(pk__in=ids).values_list("pk", "status", "progress", "attempts")
        )
        if all(status in Prediction.FINISHED for _, status, _, _ in state) and len(state) == len(ids):
            return totals
        if state != last_state:
            last_state, last_change = state, time.monotonic()
        elif time.monotonic() - last_change > quiet_seconds:
            ahead = timedelta(
                seconds=max(
                    settings.TASK_TIMEOUT + RUNNING_GRACE_SECONDS,
                    settings.QUEUED_STALE_SECONDS * MAX_ENQUEUE_ATTEMPTS,
                )
                + 1
            )
            report = prediction_sweep(now=timezone.now() + ahead)
            totals["sweeps"] += 1
            totals["failed_running"] += len(report.failed_running)
            totals["requeued"] += len(report.requeued)
            totals["failed_queued"] += len(report.failed_queued)
            last_change = time.monotonic()
        if time.monotonic() > deadline:
            stuck = [(pk, status) for pk, status, _, _ in state if status not in Prediction.FINISHED]
            pytest.fail(f"jobs not finished after {timeout}s: {stuck[:20]} (sweep: {totals})")
        time.sleep(0.3)


def money_check(ids: list[int]) -> dict[str, int]:
    """Every prediction in ``ids`` ended succeeded, or failed/canceled and refunded;
    each was charged exactly once and refunded at most once, and only if it did not
    succeed; the books balance. Returns the outcome counts."""
    from billing.audit import billing_audit
    from billing.models import LedgerEntry
    from predictions.models import Prediction

    Kind = LedgerEntry.Kind
    entries: dict[int, list[str]] = {}
    for prediction_id, kind in LedgerEntry.objects.filter(prediction_id__in=ids).values_list(
        "prediction_id", "kind"
    ):
        entries.setdefault(prediction_id, []).append(kind)
    outcomes: dict[str, int] = {}
    problems = []
    for prediction in Prediction.objects.filter(pk__in=ids):
        kinds = sorted(entries.get(prediction.pk, []))
        outcomes[prediction.status] = outcomes.get(prediction.status, 0) + 1
        expected = (
            [Kind.PREDICTION_CHARGE]
            if prediction.status == Prediction.Status.SUCCEEDED
            else sorted([Kind.PREDICTION_CHARGE, Kind.REFUND])
        )
        if prediction.status not in Prediction.FINISHED or kinds != expected:
            problems.append(f"prediction {prediction.pk} {prediction.status}: ledger {kinds}")
    assert not problems, problems[:20]
    assert billing_audit() == []
    return outcomes

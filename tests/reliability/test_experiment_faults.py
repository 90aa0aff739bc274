"""An experiment whose worker is killed with SIGKILL in the middle of its search, on
PostgreSQL + Redis: the sweep fails it and refunds the trials it did not run exactly
once, whatever else runs the sweep; the trials it finished stay on its leaderboard."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest

from tests.conftest import wait_for
from tests.reliability.client import Http, multipart

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker]

EXPERIMENTS = "/api/v1/experiments/"


def table(rows: int) -> bytes:
    rng = np.random.RandomState(3)
    lines = ["a,b,c,colour,label"]
    for number in range(rows):
        a, b, c = rng.normal(size=3)
        colour = ("red", "green", "blue")[number % 3]
        label = "yes" if a + 0.5 * b + (colour == "red") + rng.normal() * 0.5 > 0.4 else "no"
        lines.append(f"{a:.4f},{b:.4f},{c:.4f},{colour},{label}")
    return ("\n".join(lines) + "\n").encode()


def test_a_worker_killed_mid_experiment_is_swept_and_refunded_once(live, start_cluster, make_user, figures):
    from django.conf import settings
    from django.utils import timezone

    from billing.audit import billing_audit
    from billing.models import LedgerEntry
    from core.jobs.lifecycle import RUNNING_GRACE_SECONDS
    from mlmodels.models import Experiment
    from mlmodels.services import experiment_sweep
    from operations.tasks import sweep_jobs

    http: Http = live.http
    _, token = make_user("alice")
    doomed = start_cluster(workers=1)

    body, content_type = multipart({"name": "signals"}, {"file": ("signals.csv", table(3000), "text/csv")})
    answer = http.post("/api/v1/datasets/", token=token, body=body, content_type=content_type)
    assert answer.status == 201, answer.describe()
    request = {
        "dataset": answer.data["id"],
        "target": "label",
        "algorithms": ["random_forest_classifier"],
        "max_trials": 40,
        "cv_folds": 5,
        "time_budget_seconds": 300,
    }
    answer = http.post(EXPERIMENTS, token=token, json_body=request)
    assert answer.status == 202, answer.describe()
    experiment_id, cost = answer.data["id"], Decimal(answer.data["cost"])

    def searching():
        experiment = Experiment.objects.get(pk=experiment_id)
        return experiment if experiment.status == "running" and experiment.trials_done >= 1 else None

    running = wait_for(searching, timeout=120, what="the experiment to finish a trial")
    doomed.kill()  # SIGKILL to the whole process group: a crash, not a shutdown
    time.sleep(1)
    stuck = Experiment.objects.get(pk=experiment_id)
    assert stuck.status == "running"
    done = stuck.trials_done

    # The sweep from the scheduler and from another process, with the clock past the
    # task timeout: it fails the experiment once; every later sweep finds nothing.
    later = timezone.now() + timedelta(seconds=settings.TASK_TIMEOUT + RUNNING_GRACE_SECONDS + 1)
    assert experiment_sweep(now=later).failed_running == [experiment_id]
    assert experiment_sweep(now=later).failed_running == []
    assert sweep_jobs()["experiments"]["failed_running"] == []

    experiment = Experiment.objects.get(pk=experiment_id)
    assert experiment.status == "failed" and "refunded" in experiment.error
    assert experiment.trials.count() == done  # the trials it finished stay listed
    entries = list(
        LedgerEntry.objects.filter(experiment_id=experiment_id).order_by("pk").values_list("kind", "amount")
    )
    unused = experiment.price_per_trial * (experiment.max_trials - done)
    assert entries == [("experiment_charge", -cost), ("refund", unused)]
    assert billing_audit() == []
    answer = http.get(f"{EXPERIMENTS}{experiment_id}/", token=token)
    assert answer.data["status"] == "failed" and Decimal(answer.data["refunded"]) == unused

    figures["trials_done_when_killed"] = done
    figures["killed_at_progress_percent"] = running.progress
    figures["refund"] = f"{unused} of {cost}, once"

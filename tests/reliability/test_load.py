"""Load over HTTP against the production server and real qclusters: concurrent
submissions never overdraw an account, and jobs spread over two qcluster processes
each run exactly once."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.reliability.client import Answer, Http, multipart
from tests.reliability.settling import money_check, settle

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker]

PREDICTIONS = "/api/v1/predictions/"
ROW = {"age": 61, "income": 72.5, "color": "red", "member": True}
# A task put back for a fairer order (core.jobs.fairness) comes again as "-deferred<n>".
PROCESSED = re.compile(r"Processed '[\w.]+' \(prediction-(\d+)-(\d+)(?:-deferred(\d+))?\)")


def test_fifty_concurrent_submissions_from_a_balance_that_pays_for_twenty(
    live, start_cluster, make_user, make_model, figures
):
    from billing.audit import billing_audit
    from billing.models import LedgerEntry
    from predictions.models import Prediction

    http: Http = live.http
    alice, token = make_user("alice")  # 500.00 coins
    model = make_model(owner=alice, price_per_row=Decimal("25.00"))  # 500 / 25 = 20 predictions
    start_cluster(workers=2)

    attempts = 50
    barrier = threading.Barrier(attempts, timeout=30)

    def submit(number: int) -> Answer:
        barrier.wait()
        return http.post(
            PREDICTIONS, token=token, json_body={"model": model.pk, "inputs": [{**ROW, "age": number}]}
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=attempts) as pool:
        answers = list(pool.map(submit, range(attempts)))
    seconds = time.monotonic() - started

    statuses = Counter(answer.status for answer in answers)
    assert statuses == {202: 20, 402: 30}, [
        answer.describe() for answer in answers if answer.status not in (202, 402)
    ]
    for answer in answers:
        if answer.status == 402:
            assert answer.is_json and answer.detail
            assert Decimal(answer.data["cost"]) == Decimal("25.00")
    accepted = [answer.data["id"] for answer in answers if answer.status == 202]
    assert len(set(accepted)) == 20
    assert Decimal(http.get("/api/v1/billing/balance/", token=token).data["balance"]) == Decimal("0.00")
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count() == 20
    assert Prediction.objects.count() == 20
    assert billing_audit() == []

    # What was accepted is scored, and paid for once.
    settle(accepted, timeout=90)
    outcomes = money_check(accepted)
    assert outcomes == {"succeeded": 20}

    figures["requests"] = attempts
    figures["accepted_202"] = statuses[202]
    figures["refused_402"] = statuses[402]
    figures["submit_seconds"] = round(seconds, 2)
    figures["slowest_request_seconds"] = round(max(answer.seconds for answer in answers), 2)
    figures["final_balance"] = http.get("/api/v1/billing/balance/", token=token).data["balance"]
    figures["billing_audit_problems"] = len(billing_audit())


def test_two_hundred_jobs_over_two_qclusters_each_run_exactly_once(
    live, start_cluster, make_user, make_model, figures
):

    from billing.models import LedgerEntry
    from predictions.models import Prediction

    http: Http = live.http
    workers_per_cluster = 2
    clusters = [start_cluster(workers=workers_per_cluster) for _ in range(2)]
    users = [make_user("load") for _ in range(4)]
    models = {user.pk: make_model(owner=user) for user, _ in users}
    jobs = 200
    csv_body = "age,income,color,member\n" + "".join(f"{20 + n},{40 + n}.5,blue,true\n" for n in range(25))

    def submit(number: int) -> Answer:
        user, token = users[number % len(users)]
        model_id = models[user.pk].pk
        if number % 10 == 0:  # every tenth job a 25-row CSV file, the others JSON rows
            body, content_type = multipart(
                {"model": str(model_id)}, {"file": ("rows.csv", csv_body.encode(), "text/csv")}
            )
            return http.post(PREDICTIONS, token=token, body=body, content_type=content_type)
        rows = [{**ROW, "age": 18 + (number + offset) % 60} for offset in range(1 + number % 3)]
        return http.post(PREDICTIONS, token=token, json_body={"model": model_id, "inputs": rows})

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(submit, range(jobs)))
    submit_seconds = time.monotonic() - started
    assert all(answer.status == 202 for answer in answers), [
        a.describe() for a in answers if a.status != 202
    ][:5]
    ids = [answer.data["id"] for answer in answers]
    assert len(set(ids)) == jobs

    sweep = settle(ids, timeout=180)
    all_done_seconds = time.monotonic() - started
    assert sweep["requeued"] == sweep["failed_running"] == sweep["failed_queued"] == 0, sweep

    # Every job succeeded, was charged once and never refunded; the books balance.
    assert money_check(ids) == {"succeeded": jobs}
    charges = Counter(
        LedgerEntry.objects.filter(
            prediction_id__in=ids, kind=LedgerEntry.Kind.PREDICTION_CHARGE
        ).values_list("prediction_id", flat=True)
    )
    assert set(charges.values()) == {1} and len(charges) == jobs
    for prediction in Prediction.objects.filter(pk__in=ids):
        assert prediction.attempts == 1 and prediction.result_file, prediction.pk
        if prediction.input_kind == "json":
            assert len(prediction.results) == prediction.rows

    # Each task ran once, on one of the two clusters, and both clusters took a share.
    # A task put back for fairness is delivered again under its own name; no name is
    # ever delivered twice.
    ran_on: dict[int, list[int]] = {}
    deliveries: Counter = Counter()
    for index, cluster in enumerate(clusters):
        for match in PROCESSED.finditer(cluster.log()):
            deliveries[match.group(0)] += 1
            if match.group(3) is None:
                ran_on.setdefault(int(match.group(1)), []).append(index)
    assert sorted(ran_on) == sorted(ids), "a job is missing from the clusters' logs"
    assert set(deliveries.values()) == {1}, [name for name, count in deliveries.items() if count > 1]
    assert all(len(runs) == 1 for runs in ran_on.values()), {
        pk: runs for pk, runs in ran_on.items() if len(runs) > 1
    }
    per_cluster = Counter(runs[0] for runs in ran_on.values())
    assert per_cluster[0] > 0 and per_cluster[1] > 0, per_cluster
    # (django-q keeps no rows for successful tasks: save_limit is -1; the clusters' own
    # logs above are the record of where each job ran.)

    figures["jobs"] = jobs
    figures["clusters"] = len(clusters)
    figures["workers_per_cluster"] = workers_per_cluster
    figures["jobs_per_cluster"] = [per_cluster[0], per_cluster[1]]
    figures["csv_jobs"] = sum(1 for n in range(jobs) if n % 10 == 0)
    figures["rows_scored"] = sum(Prediction.objects.filter(pk__in=ids).values_list("rows", flat=True))
    figures["submit_seconds"] = round(submit_seconds, 2)
    figures["all_finished_seconds"] = round(all_done_seconds, 2)
    figures["duplicate_runs"] = sum(len(runs) - 1 for runs in ran_on.values())
    figures["fairness_deferrals"] = sum(1 for name in deliveries if "-deferred" in name)
    figures["charges_per_job"] = sorted(set(charges.values()))
    figures["refunds"] = LedgerEntry.objects.filter(
        prediction_id__in=ids, kind=LedgerEntry.Kind.REFUND
    ).count()

"""Faults under load: a qcluster killed with SIGKILL in the middle of a job, and the
real PostgreSQL and Redis stopped and started while clients keep sending requests.
Whatever happens, every accepted job ends succeeded, or failed and refunded, and not a
coin is lost or counted twice.

The outages are kept to a few seconds and the services are always started again: other
test runs on this machine share them."""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connections

from tests.conftest import wait_for
from tests.reliability.client import REQUEST_TIMEOUT, Http, multipart
from tests.reliability.outages import outage
from tests.reliability.settling import money_check, settle
from tests.reliability.traffic import Call, Load

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker]

PREDICTIONS = "/api/v1/predictions/"
ROW = {"age": 61, "income": 72.5, "color": "red", "member": True}


def big_csv(rows: int) -> bytes:
    colors = ("red", "green", "blue")
    lines = ["age,income,color,member"]
    lines += [
        f"{18 + n % 60},{30 + n % 50}.25,{colors[n % 3]},{'true' if n % 2 else 'false'}" for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_qcluster_killed_with_sigkill_in_the_middle_of_a_job(
    live, start_cluster, make_user, make_model, figures
):
    from billing.audit import billing_audit
    from billing.models import LedgerEntry
    from predictions.models import Prediction
    from predictions.services import prediction_sweep

    http: Http = live.http
    alice, token = make_user("alice")
    model = make_model(owner=alice, price_per_row=Decimal("0.0001"))
    # One worker process scoring 100 rows at a time: the big file takes many seconds.
    doomed = start_cluster(workers=1, PREDICTION_CHUNK_ROWS="100")

    rows = 200_000
    body, content_type = multipart({"model": str(model.pk)}, {"file": ("big.csv", big_csv(rows), "text/csv")})
    answer = http.post(PREDICTIONS, token=token, body=body, content_type=content_type)
    assert answer.status == 202, answer.describe()
    big_id = answer.data["id"]
    assert Decimal(answer.data["cost"]) == Decimal("20.00")
    # Small jobs queued behind it: the killed cluster may have taken them from Redis.
    small_ids = []
    for number in range(3):
        answer = http.post(
            PREDICTIONS, token=token, json_body={"model": model.pk, "inputs": [{**ROW, "age": number}]}
        )
        assert answer.status == 202, answer.describe()
        small_ids.append(answer.data["id"])

    def scoring():
        prediction = Prediction.objects.get(pk=big_id)
        return prediction if prediction.status == "running" and prediction.progress >= 2 else None

    running = wait_for(scoring, timeout=90, what="the big job to be scoring")
    doomed.kill()  # SIGKILL to the whole process group: a crash, not a shutdown
    killed_at = time.monotonic()
    time.sleep(1)
    stuck = Prediction.objects.get(pk=big_id)
    assert stuck.status == "running"  # nobody will finish it now

    start_cluster(workers=2)
    sweep = settle([big_id, *small_ids], timeout=90)
    recovered_seconds = time.monotonic() - killed_at

    big = Prediction.objects.get(pk=big_id)
    assert big.status == "failed" and "refunded" in big.error, (big.status, big.error)
    kinds = sorted(LedgerEntry.objects.filter(prediction_id=big_id).values_list("kind", flat=True))
    assert kinds == ["prediction_charge", "refund"]
    assert Prediction.objects.filter(pk__in=small_ids, status="succeeded").count() == 3
    outcomes = money_check([big_id, *small_ids])
    assert outcomes == {"failed": 1, "succeeded": 3}
    assert sweep["failed_running"] == 1

    # The sweep, run again and again, changes nothing more.
    for _ in range(2):
        report = prediction_sweep()
        assert not (report.failed_running or report.requeued or report.failed_queued), report
    assert billing_audit() == []
    assert Decimal(http.get("/api/v1/billing/balance/", token=token).data["balance"]) == Decimal(
        "499.97"
    )  # 3 × 1 row × 0.0001, each rounded up to 0.01

    figures["rows_in_big_job"] = rows
    figures["killed_at_progress_percent"] = running.progress
    figures["big_job"] = f"{big.status}, charged {big.cost} and refunded once"
    small = Prediction.objects.filter(pk__in=small_ids, status="succeeded")
    small_charges = LedgerEntry.objects.filter(prediction_id__in=small_ids, kind="prediction_charge").count()
    assert small_charges == small.count() == 3
    figures["small_jobs_behind_it"] = f"{small.count()} succeeded, charged {small_charges} times in all"
    figures["sweep"] = sweep
    figures["seconds_from_kill_to_all_settled"] = round(recovered_seconds, 1)


def _outage_under_load(service: str, *, live, start_cluster, make_user, make_model, figures) -> None:
    """Clients keep working while ``service`` is stopped for a few seconds and started
    again; then they retry, with the same Idempotency-Key, whatever failed."""
    from billing.audit import billing_audit
    from billing.models import LedgerEntry
    from core.models import IdempotencyKey
    from predictions.models import Prediction

    http: Http = live.http
    start_cluster(workers=2)
    start_cluster(workers=2)
    alice, token = make_user("alice")
    model = make_model(owner=alice)  # 0.05 a row

    load = Load(http, token=token, model_id=model.pk, clients=4, rate=10).start()
    time.sleep(3)
    down = outage(service, down_for=3)
    try:
        connections.close_all()  # this process's connection did not survive a PostgreSQL restart

        def recovered():
            ok = [
                call for call in load.calls if call.started > down.up_at and 200 <= call.answer.status < 300
            ]
            return len(ok) >= 20

        wait_for(
            recovered, timeout=60, interval=0.5, what=f"requests to succeed again after {service} came back"
        )
        first_ok = min(
            call.ended for call in load.calls if call.started > down.up_at and 200 <= call.answer.status < 300
        )
        time.sleep(3)
    finally:
        load.stop()
    calls: list[Call] = list(load.calls)

    # While the service was down: a 503 that names it, bounded in time, never a hang.
    during = [call for call in calls if call.started >= down.down_at and call.ended <= down.starting_at]
    assert during, "no request was sent while the service was down"
    bad = [
        call.answer.describe()
        for call in during
        if not (
            call.answer.status == 503 and call.answer.is_json and "cannot be reached" in call.answer.detail
        )
    ]
    assert not bad, bad[:5]
    assert max(call.answer.seconds for call in calls) < REQUEST_TIMEOUT
    assert all(call.answer.status != 0 for call in calls), [
        c.answer.describe() for c in calls if c.answer.status == 0
    ][:5]
    # After it: everything succeeds again (2xx; never a 5xx in the last seconds).
    settled_calls = [call for call in calls if call.started > first_ok + 1]
    assert settled_calls and all(200 <= call.answer.status < 300 for call in settled_calls), [
        call.answer.describe() for call in settled_calls if not 200 <= call.answer.status < 300
    ][:5]

    # The client retries each POST that failed, with its key: nothing is lost or doubled.
    retries = load.retry_failed()
    assert all(200 <= call.answer.status < 300 for call in retries), [
        call.answer.describe() for call in retries
    ][:5]
    post_keys = {call.key for call in calls if call.key}
    accepted = {
        key: answer
        for key, answer in {
            **{call.key: call.answer for call in calls if call.key and 200 <= call.answer.status < 300},
            **{call.key: call.answer for call in retries},
        }.items()
    }
    assert set(accepted) == post_keys
    prediction_keys = [key for key in post_keys if load.bodies[key][0] == PREDICTIONS]
    topup_keys = [key for key in post_keys if load.bodies[key][0] != PREDICTIONS]
    assert Prediction.objects.filter(owner=alice).count() == len(prediction_keys)
    assert LedgerEntry.objects.filter(account__user=alice, kind="topup").count() == len(topup_keys)
    assert IdempotencyKey.objects.filter(user=alice).count() == len(post_keys)

    # Every accepted job ends succeeded, or failed and refunded; the books balance.
    ids = list(Prediction.objects.filter(owner=alice).values_list("pk", flat=True))
    assert sorted(ids) == sorted({accepted[key].data["id"] for key in prediction_keys})
    sweep = settle(ids, timeout=120)
    outcomes = money_check(ids)
    balance = Decimal(http.get("/api/v1/billing/balance/", token=token).data["balance"])
    expected = (
        Decimal("500.00")
        + len(topup_keys) * Decimal("1.00")
        - Decimal("0.05")
        * Prediction.objects.filter(owner=alice).exclude(status__in=["failed", "canceled"]).count()
    )
    assert balance == expected

    statuses_during = Counter(call.answer.status for call in during)
    figures["service"] = service
    figures["outage_seconds"] = down.seconds
    figures["stop_seconds"] = round(down.down_at - down.stopping_at, 2)
    figures["start_seconds"] = round(down.up_at - down.starting_at, 2)
    figures["requests"] = len(calls)
    figures["requests_while_down"] = len(during)
    figures["answers_while_down"] = {str(status): count for status, count in sorted(statuses_during.items())}
    figures["slowest_answer_while_down_seconds"] = round(max(call.answer.seconds for call in during), 3)
    figures["slowest_answer_seconds"] = round(max(call.answer.seconds for call in calls), 3)
    figures["first_success_after_restart_seconds"] = round(first_ok - down.up_at, 2)
    figures["posts_retried_with_same_key"] = len(retries)
    figures["retries_replayed"] = sum(1 for call in retries if call.answer.headers.get("idempotent-replayed"))
    figures["predictions_accepted"] = len(prediction_keys)
    figures["topups_accepted"] = len(topup_keys)
    figures["job_outcomes"] = outcomes
    figures["sweep"] = sweep
    figures["final_balance"] = str(balance)
    problems = billing_audit()
    assert problems == []
    figures["billing_audit_problems"] = len(problems)


def test_postgres_restarted_during_load(live, start_cluster, make_user, make_model, figures):
    _outage_under_load(
        "postgres",
        live=live,
        start_cluster=start_cluster,
        make_user=make_user,
        make_model=make_model,
        figures=figures,
    )


def test_redis_restarted_during_load(live, start_cluster, make_user, make_model, figures):
    _outage_under_load(
        "redis",
        live=live,
        start_cluster=start_cluster,
        make_user=make_user,
        make_model=make_model,
        figures=figures,
    )


# --- Lost and failed enqueues -------------------------------------------------------------
# Redis keeps no copy of a task a worker took, and loses its whole queue when it restarts
# without persistence: the database row is the truth, and the sweep enqueues again what
# the broker lost.


def test_a_prediction_committed_while_the_broker_is_unreachable_is_accepted_and_runs_later(
    transactional_db, make_user, make_model, start_cluster, settings
):
    from rest_framework.test import APIClient

    from predictions.models import Prediction

    alice, token = make_user("alice")
    model = make_model(owner=alice)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    reachable_broker = settings.REDIS_URL
    # This process only: its broker (core.jobs.queue, on the shared client for
    # REDIS_URL) points at a port where nothing listens, as when Redis goes away
    # between the throttle check and the commit.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    response = client.post(PREDICTIONS, {"model": model.pk, "inputs": [ROW]}, format="json")
    settings.REDIS_URL = reachable_broker

    prediction = Prediction.objects.get(owner=alice)  # committed and charged either way
    assert response.status_code == 202, (response.status_code, response.content[:300])
    start_cluster(workers=1)
    settle([prediction.pk], timeout=60)
    assert money_check([prediction.pk]) == {"succeeded": 1}


def test_a_dataset_whose_profile_task_was_lost_is_profiled_after_the_sweep(
    live, start_cluster, make_user, settings
):
    from django_q.brokers import get_broker

    from mlmodels.models import Dataset
    from operations.tasks import sweep_jobs

    settings.QUEUED_STALE_SECONDS = 5
    http: Http = live.http
    _, token = make_user("alice")
    body, content_type = multipart(
        {}, {"file": ("data.csv", b"a,b,label\n1,2,x\n3,4,y\n5,6,x\n", "text/csv")}
    )
    answer = http.post("/api/v1/datasets/", token=token, body=body, content_type=content_type)
    assert answer.status == 201 and answer.data["status"] == "profiling", answer.describe()
    get_broker().purge_queue()  # what a Redis restart does to every waiting task
    start_cluster(workers=1)
    time.sleep(settings.QUEUED_STALE_SECONDS + 1)
    sweep_jobs()

    def profiled():
        return Dataset.objects.filter(pk=answer.data["id"]).exclude(status="profiling").first()

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not profiled():
        time.sleep(0.3)
    assert profiled() is not None, "the dataset is still profiling"

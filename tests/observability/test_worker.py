"""With a real qcluster: the queue depth and the worker's heartbeat in /metrics and
/healthz, and a real prediction's job events in the worker's own (JSON) log."""

from __future__ import annotations

import json

import pytest
from django_q.brokers import get_broker
from django_q.tasks import async_task

from predictions.models import Prediction
from tests.conftest import wait_for
from tests.observability.helpers import stop_worker, submit

pytestmark = pytest.mark.worker


def test_queue_depth_and_health_follow_a_real_worker(client, scrape, start_worker, worker_queue):
    for number in range(3):
        async_task("math.floor", number + 0.5, task_name=f"obs-floor-{number}")
    waiting = scrape()
    assert waiting.value("mlservice_queue_depth") == 3
    assert waiting.value("mlservice_worker_clusters") == 0
    assert client.get("/healthz").json()["failing"] == ["worker"]

    worker = start_worker(workers=1, extra_env=worker_queue)
    broker = get_broker()
    wait_for(lambda: broker.queue_size() == 0, timeout=60, what="the 3 tasks taken")

    healthy = wait_for(
        lambda: (response := client.get("/healthz")).status_code == 200 and response, what="200"
    )
    body = healthy.json()
    assert body["status"] == "ok"
    assert body["checks"]["worker"]["clusters"] == 1
    assert body["checks"]["worker"]["workers"] == 1
    assert body["checks"]["broker"]["queue_depth"] == 0
    done = scrape()
    assert done.value("mlservice_queue_depth") == 0
    assert done.value("mlservice_worker_clusters") == 1
    assert done.value("mlservice_worker_processes") == 1

    stop_worker(worker)
    assert client.get("/healthz").json()["failing"] == ["worker"]


def test_a_real_prediction_is_logged_by_the_worker_with_its_job_and_request_ids(
    alice_api, trained_model, scrape, start_worker, worker_queue
):
    worker = start_worker(workers=1, extra_env={**worker_queue, "LOG_FORMAT": "json"})
    before = scrape()

    prediction = submit(alice_api, trained_model, HTTP_X_REQUEST_ID="obs-request-42")
    wait_for(
        lambda: Prediction.objects.filter(pk=prediction.pk, status="succeeded").exists(),
        timeout=60,
        what="the prediction to succeed",
    )

    def finished_line():
        lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
        return next(
            (
                line
                for line in lines
                if line.get("event") == "finished" and line.get("job_id") == prediction.pk
            ),
            None,
        )

    line = wait_for(finished_line, timeout=10, what="the job's finished line")
    assert line["logger"] == "mlservice.jobs"
    assert line["job_kind"] == "prediction"
    assert (line["from_status"], line["to_status"]) == ("queued", "succeeded")
    assert line["request_id"] == "obs-request-42"
    assert line["task_id"]
    assert line["success"] is True

    after = scrape()
    labels = {"model_id": str(trained_model.pk), "status": "succeeded"}
    assert after.value("mlservice_predictions_finished_total", **labels) == (
        before.value("mlservice_predictions_finished_total", **labels) + 1
    )
    assert after.value("mlservice_prediction_rows_scored_total", model_id=str(trained_model.pk)) == 3
    assert after.value("mlservice_job_queue_wait_seconds_count", kind="prediction") == 1
    # A fresh worker process had to load the model: a miss, counted across processes.
    assert (
        after.value("mlservice_model_cache_misses_total")
        == before.value("mlservice_model_cache_misses_total") + 1
    )
    stop_worker(worker)

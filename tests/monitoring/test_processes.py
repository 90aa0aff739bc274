"""CPU and memory of the web and worker processes on /metrics, and a prediction made
by a real qcluster worker showing up in the monitoring metrics."""

from __future__ import annotations

import os

import pytest

from predictions.models import Prediction
from tests.conftest import wait_for
from tests.monitoring.conftest import draw


def test_the_web_process_reports_its_cpu_and_memory(db, client, scrape):
    client.get("/healthz")
    metrics = scrape()
    web = {"role": "web", "pid": str(os.getpid())}
    assert metrics.value("mlservice_process_resident_memory_bytes", **web) > 10 * 1024 * 1024
    assert metrics.value("mlservice_process_cpu_seconds_total", **web) > 0


@pytest.mark.worker
def test_a_real_worker_reports_itself_and_its_predictions(
    alice_api, classifier, scrape, start_worker, worker_queue
):
    start_worker(workers=1, extra_env=worker_queue)
    response = alice_api.post(
        "/api/v1/predictions/",
        {"model": classifier.pk, "inputs": draw(20, seed=50).to_dict("records")},
        format="json",
    )
    assert response.status_code == 202, response.content
    wait_for(
        lambda: Prediction.objects.filter(pk=response.json()["id"], status="succeeded").exists(),
        timeout=60,
        what="the prediction to succeed",
    )
    metrics = wait_for(
        lambda: (found := scrape()).has("mlservice_process_resident_memory_bytes", role="worker") and found,
        timeout=30,
        what="the worker's process sample",
    )
    workers = [
        sample
        for sample in metrics.samples
        if sample.name == "mlservice_process_resident_memory_bytes" and sample.labels["role"] == "worker"
    ]
    assert all(sample.labels["pid"] != str(os.getpid()) and sample.value > 0 for sample in workers)
    labels = {"model_id": str(classifier.pk)}
    assert metrics.value("mlservice_predicted_class_total", **labels) == 20

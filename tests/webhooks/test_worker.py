"""The round trip through a real qcluster: the job's worker records the event, the task
enqueued on commit sends it, with no help from the test."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.worker


def test_a_real_worker_delivers_start_and_completed(
    start_worker, alice_api, alice_secret, classifier, row, receiver, readme_verify
):
    worker = start_worker(workers=1, extra_env={"WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"})
    response = alice_api.post(
        "/api/v1/predictions/",
        {
            "model": classifier.pk,
            "inputs": row,
            "webhook": receiver.url,
            "webhook_events": ["start", "completed"],
        },
        format="json",
        HTTP_PREFER="wait=30",
    )
    assert response.status_code == 201, (response.json(), worker.log()[-2000:])
    wait_for(lambda: len(receiver.requests) == 2, timeout=30, what="two webhook requests")
    start, completed = receiver.requests
    assert [json.loads(start.body)["status"], json.loads(completed.body)["status"]] == [
        "running",
        "succeeded",
    ]
    assert all(readme_verify(alice_secret, request.headers, request.body) for request in receiver.requests)
    wait_for(
        lambda: set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"},
        what="both deliveries recorded as delivered",
    )

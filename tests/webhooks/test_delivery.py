"""A finished job POSTs one signed request to a real receiver: the body is what GET
answers, and the README's code verifies the signature."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from mlmodels.tasks import train_model_task
from predictions.models import Prediction
from predictions.tasks import run_prediction
from webhooks.models import WebhookDelivery
from webhooks.services import webhooks_deliver_due
from webhooks.tasks import deliver_job_webhooks

PREDICTIONS = "/api/v1/predictions/"


def predict(api, model, row, **webhook) -> dict:
    response = api.post(PREDICTIONS, {"model": model.pk, "inputs": row, **webhook}, format="json")
    assert response.status_code == 202, response.json()
    return response.json()


def test_a_completed_prediction_sends_one_signed_request(
    alice_api, alice_secret, classifier, row, receiver, readme_verify
):
    created = predict(alice_api, classifier, row, webhook=receiver.url)
    run_prediction(created["id"])
    assert receiver.requests == []  # sent by a task once the job committed, not by the job

    assert webhooks_deliver_due() == 1
    assert webhooks_deliver_due() == 0  # delivered: never sent again

    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"].startswith("msg_")
    assert request.headers["webhook-event"] == "prediction.completed"
    assert readme_verify(alice_secret, request.headers, request.body)
    # The body is the object GET predictions/{id}/ answers (its link as a path).
    sent = json.loads(request.body)
    shown = alice_api.get(f"{PREDICTIONS}{created['id']}/").json()
    assert sent["status"] == "succeeded" and sent["results"] == shown["results"]
    assert shown["download_url"].endswith(sent["download_url"])
    assert {**sent, "download_url": None} == {**shown, "download_url": None}


def test_the_signature_fails_for_another_body_secret_or_an_old_timestamp(
    alice_api, alice_secret, classifier, row, receiver, readme_verify
):
    created = predict(alice_api, classifier, row, webhook=receiver.url)
    run_prediction(created["id"])
    webhooks_deliver_due()
    [request] = receiver.requests
    assert readme_verify(alice_secret, request.headers, request.body)
    assert not readme_verify(alice_secret, request.headers, request.body.replace(b"succeeded", b"failed"))
    other = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="
    assert not readme_verify(other, request.headers, request.body)
    old = {**request.headers, "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 600)}
    assert not readme_verify(alice_secret, old, request.body)


def test_a_training_sends_start_then_completed(alice_api, alice_secret, dataset, receiver, readme_verify):
    response = alice_api.post(
        "/api/v1/models/",
        {
            "name": "churn",
            "dataset": dataset.pk,
            "target": "label",
            "algorithm": "logistic_regression",
            "webhook": receiver.url,
            "webhook_events": ["completed", "start"],
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    model_id = response.json()["id"]
    train_model_task(model_id)
    assert webhooks_deliver_due() == 2

    start, completed = receiver.requests
    assert json.loads(start.body)["status"] == "running"
    body = json.loads(completed.body)
    assert body["id"] == model_id and body["status"] == "ready" and body["metrics"]["accuracy"] > 0
    assert [start.headers["webhook-event"], completed.headers["webhook-event"]] == [
        "model.start",
        "model.completed",
    ]
    assert start.headers["webhook-id"] != completed.headers["webhook-id"]
    assert all(readme_verify(alice_secret, sent.headers, sent.body) for sent in receiver.requests)
    listed = alice_api.get(f"/api/v1/models/{model_id}/deliveries/").json()
    assert [(item["event"], item["status"], item["attempt_count"]) for item in listed] == [
        ("start", "delivered", 1),
        ("completed", "delivered", 1),
    ]


def test_the_task_enqueued_on_commit_sends_the_event(alice_api, alice_secret, classifier, row, receiver):
    created = predict(alice_api, classifier, row, webhook=receiver.url)
    run_prediction(created["id"])
    delivery = WebhookDelivery.objects.get()
    deliver_job_webhooks(delivery.subscription_id)
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.next_attempt_at is None


def test_only_the_events_asked_for_are_sent(alice_api, alice_secret, classifier, row, receiver):
    created = predict(alice_api, classifier, row, webhook=receiver.url, webhook_events=["start"])
    run_prediction(created["id"])
    webhooks_deliver_due()
    [request] = receiver.requests
    assert request.headers["webhook-event"] == "prediction.start"
    assert json.loads(request.body)["status"] == "running"


def test_a_canceled_prediction_sends_completed_with_its_status(
    alice_api, alice_secret, classifier, row, receiver
):
    created = predict(alice_api, classifier, row, webhook=receiver.url)
    assert alice_api.post(f"{PREDICTIONS}{created['id']}/cancel/").status_code == 200
    webhooks_deliver_due()
    [request] = receiver.requests
    assert json.loads(request.body)["status"] == "canceled"


def test_a_job_without_a_webhook_sends_nothing(alice_api, alice_secret, classifier, row, receiver):
    created = predict(alice_api, classifier, row)
    run_prediction(created["id"])
    assert webhooks_deliver_due(now=timezone.now() + timedelta(hours=2)) == 0
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()
    assert Prediction.objects.get(pk=created["id"]).status == "succeeded"


@pytest.mark.parametrize("events", [["finished"], [], "completed"])
def test_unknown_events_are_refused_before_the_charge(
    alice_api, alice_secret, classifier, row, receiver, events
):
    response = alice_api.post(
        PREDICTIONS,
        {"model": classifier.pk, "inputs": row, "webhook": receiver.url, "webhook_events": events},
        format="json",
    )
    assert response.status_code == 400
    assert [key.split(".")[0] for key in response.json()["errors"]] == ["webhook_events"]
    assert not Prediction.objects.exists()

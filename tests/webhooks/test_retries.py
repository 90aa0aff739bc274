"""Retries follow the schedule (the clock is advanced, never slept), each attempt is
recorded, and one webhook-id names every attempt of an event."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from predictions.tasks import run_prediction
from webhooks import sending
from webhooks.models import WebhookDelivery
from webhooks.services import webhooks_deliver_due

PREDICTIONS = "/api/v1/predictions/"


def finished_prediction(api, model, row, url) -> int:
    response = api.post(PREDICTIONS, {"model": model.pk, "inputs": row, "webhook": url}, format="json")
    assert response.status_code == 202, response.json()
    run_prediction(response.json()["id"])
    return response.json()["id"]


def test_a_500_then_a_200_records_two_attempts_30_seconds_apart(
    alice_api, alice_secret, classifier, row, receiver
):
    receiver.answers = [(500, {}), (200, {})]
    prediction_id = finished_prediction(alice_api, classifier, row, receiver.url)
    start = timezone.now()

    assert webhooks_deliver_due(now=start) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.next_attempt_at == start + timedelta(seconds=30)
    assert webhooks_deliver_due(now=start + timedelta(seconds=29)) == 0
    assert len(receiver.requests) == 1
    assert webhooks_deliver_due(now=start + timedelta(seconds=30)) == 1

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert int(second.headers["webhook-timestamp"]) == int(first.headers["webhook-timestamp"]) + 30
    listed = alice_api.get(f"{PREDICTIONS}{prediction_id}/deliveries/").json()
    [shown] = listed
    assert shown["webhook_id"] == first.headers["webhook-id"]
    assert shown["status"] == "delivered" and shown["next_attempt_at"] is None
    assert [(a["number"], a["status_code"], a["succeeded"]) for a in shown["attempts"]] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert shown["attempts"][0]["response_body"] == "answer 500"
    assert shown["attempts"][0]["error"] == "The receiver answered 500."
    # The answer is kept up to 1 KB (the receiver sent 5,000 bytes).
    assert shown["attempts"][1]["response_body"] == "x" * 1024
    assert all(attempt["duration_ms"] >= 0 for attempt in shown["attempts"])


def test_a_receiver_that_always_fails_gets_six_attempts_over_an_hour(
    alice_api, alice_secret, classifier, row, receiver
):
    receiver.answers = [(503, {})]
    finished_prediction(alice_api, classifier, row, receiver.url)
    start = timezone.now()
    sent_at = []
    # A clock that ticks every 10 s for two hours: attempts happen when they fall due.
    for second in range(0, 2 * 3600, 10):
        if webhooks_deliver_due(now=start + timedelta(seconds=second)):
            sent_at.append(second)
    assert sent_at == [0, 30, 150, 450, 1350, 3750]
    assert len(receiver.requests) == 6
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 6 and delivery.next_attempt_at is None
    assert list(delivery.attempt_rows.values_list("status_code", flat=True)) == [503] * 6


def test_a_receiver_that_is_down_then_up_gets_exactly_one_delivery(
    alice_api, alice_secret, classifier, row, stopped_receiver
):
    finished_prediction(alice_api, classifier, row, stopped_receiver.url)
    start = timezone.now()
    assert webhooks_deliver_due(now=start) == 1  # connection refused
    delivery = WebhookDelivery.objects.get()
    [refused] = delivery.attempt_rows.all()
    assert refused.status_code is None and "refused" in refused.error.lower()

    stopped_receiver.start()
    for second in (10, 30, 60, 200, 500, 2000, 5000):
        webhooks_deliver_due(now=start + timedelta(seconds=second))
    assert len(stopped_receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_a_redirect_is_not_followed(alice_api, alice_secret, classifier, row, receiver):
    receiver.answers = [(302, {"Location": f"http://127.0.0.1:{receiver.port}/elsewhere"})]
    finished_prediction(alice_api, classifier, row, receiver.url)
    start = timezone.now()
    webhooks_deliver_due(now=start)
    assert [request.path for request in receiver.requests] == ["/hook"]
    delivery = WebhookDelivery.objects.get()
    [attempt] = delivery.attempt_rows.all()
    assert attempt.status_code == 302 and not attempt.succeeded
    assert "not followed" in attempt.error
    assert delivery.status == "pending" and delivery.next_attempt_at == start + timedelta(seconds=30)


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(
    monkeypatch, alice_api, alice_secret, classifier, row, receiver
):
    monkeypatch.setattr(sending, "TIMEOUT_SECONDS", 0.2)  # the real one is 5 s
    receiver.delay = 1.0
    finished_prediction(alice_api, classifier, row, receiver.url)
    start = timezone.now()
    webhooks_deliver_due(now=start)
    delivery = WebhookDelivery.objects.get()
    [attempt] = delivery.attempt_rows.all()
    assert attempt.status_code is None and "0.2 seconds" in attempt.error
    assert attempt.duration_ms < 1000
    assert delivery.status == "pending" and delivery.next_attempt_at == start + timedelta(seconds=30)

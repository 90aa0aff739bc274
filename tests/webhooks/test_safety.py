"""What a webhook may not do: call private addresses (at submit, and at delivery when
DNS changed its answer since), change a job's status or charge, have two deliveries of
one job in flight, or show one user's deliveries to another."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError
from django.utils import timezone

from billing.audit import billing_audit
from billing.models import LedgerEntry
from billing.selectors import balance_for_user
from predictions.models import Prediction
from predictions.tasks import run_prediction
from webhooks import url_checks
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import webhook_subscription_deliver, webhooks_deliver_due

PREDICTIONS = "/api/v1/predictions/"
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch):
    """Play DNS: ``dns["hooks.example"] = ["…"]`` is what url_checks resolves it to."""
    answers: dict[str, list[str]] = {}

    def resolve(host, port):
        if host not in answers:
            raise url_checks.UrlRefused(f"The host name {host} could not be resolved (test DNS).")
        return answers[host]

    monkeypatch.setattr(url_checks, "resolve_host", resolve)
    return answers


def post_prediction(api, model, row, url):
    return api.post(PREDICTIONS, {"model": model.pk, "inputs": row, "webhook": url}, format="json")


@pytest.mark.parametrize(
    ("url", "answer", "words"),
    [
        ("https://127.0.0.1/hook", None, "loopback"),
        ("https://[::1]/hook", None, "loopback"),
        ("https://169.254.169.254/latest/meta-data/", None, "metadata"),
        ("https://[fd00:ec2::254]/", None, "metadata"),
        ("https://10.1.2.3/hook", None, "private"),
        ("https://[::ffff:192.168.0.1]/hook", None, "private"),
        ("https://224.0.0.1/hook", None, "multicast"),
        ("https://0.0.0.0/hook", None, "unspecified"),
        ("https://internal.example/hook", ["10.0.0.5"], "private"),
        # One private answer among public ones is enough to refuse.
        ("https://mixed.example/hook", [PUBLIC_ADDRESS, "127.0.0.1"], "loopback"),
        ("https://metadata.example/hook", ["169.254.169.254"], "metadata"),
        ("http://hooks.example/hook", [PUBLIC_ADDRESS], "https://"),
        ("https://user:secret@hooks.example/hook", [PUBLIC_ADDRESS], "password"),
        ("https://hooks.example/" + "a" * 2000, [PUBLIC_ADDRESS], "2,000"),
        ("ftp://hooks.example/hook", [PUBLIC_ADDRESS], "https://"),
        ("https://nowhere.example/hook", None, "could not be resolved"),
    ],
)
def test_ssrf_targets_are_refused_at_submit_before_any_charge(
    settings, dns, alice_api, alice, alice_secret, classifier, row, url, answer, words
):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = False
    if answer is not None:
        dns[url.split("//")[1].split("/")[0].split("@")[-1]] = answer
    before = balance_for_user(user=alice)

    response = post_prediction(alice_api, classifier, row, url)

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert list(errors) == ["webhook"]
    assert words in errors["webhook"][0]
    assert balance_for_user(user=alice) == before
    assert not Prediction.objects.exists() and not WebhookSubscription.objects.exists()


def test_a_public_https_url_is_accepted(settings, dns, alice_api, alice_secret, classifier, row):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = False
    dns["hooks.example"] = [PUBLIC_ADDRESS, "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    response = post_prediction(alice_api, classifier, row, "https://hooks.example/hook?source=ml")
    assert response.status_code == 202, response.json()
    assert WebhookSubscription.objects.get().url == "https://hooks.example/hook?source=ml"


def test_a_dns_answer_changed_after_submit_is_refused_at_delivery(
    settings, dns, alice_api, alice, alice_secret, classifier, row, receiver
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    url = f"http://hooks.example:{receiver.port}/hook"
    dns["hooks.example"] = [PUBLIC_ADDRESS]
    response = post_prediction(alice_api, classifier, row, url)
    assert response.status_code == 202, response.json()
    prediction_id = response.json()["id"]
    run_prediction(prediction_id)
    balance = balance_for_user(user=alice)

    dns["hooks.example"] = ["127.0.0.1"]  # now pointing at the receiver on loopback
    start = timezone.now()
    assert webhooks_deliver_due(now=start) == 1

    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    [attempt] = delivery.attempt_rows.all()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert "127.0.0.1" in attempt.error and "loopback" in attempt.error
    assert webhooks_deliver_due(now=start + timedelta(hours=2)) == 0  # refused is final
    assert Prediction.objects.get(pk=prediction_id).status == "succeeded"
    assert balance_for_user(user=alice) == balance


def test_the_connection_goes_to_the_checked_address_with_the_host_name(
    dns, alice_api, alice_secret, classifier, row, receiver
):
    # "hooks.example" exists only in the test's DNS: a sender that resolved the name
    # again, instead of using the checked address, could not connect at all.
    dns["hooks.example"] = ["127.0.0.1"]
    prediction = post_prediction(alice_api, classifier, row, f"http://hooks.example:{receiver.port}/hook")
    run_prediction(prediction.json()["id"])
    webhooks_deliver_due()
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example:{receiver.port}"


def test_a_failing_webhook_never_changes_the_jobs_status_or_charge(
    alice_api, alice, alice_secret, classifier, row, receiver
):
    receiver.answers = [(500, {})]
    response = post_prediction(alice_api, classifier, row, receiver.url)
    prediction_id = response.json()["id"]
    run_prediction(prediction_id)
    balance = balance_for_user(user=alice)
    entries = list(LedgerEntry.objects.order_by("pk").values_list("kind", "amount"))

    start = timezone.now()
    for minutes in range(0, 120, 1):
        webhooks_deliver_due(now=start + timedelta(minutes=minutes))

    assert WebhookDelivery.objects.get().status == "failed"
    prediction = Prediction.objects.get(pk=prediction_id)
    assert prediction.status == "succeeded" and prediction.error == ""
    assert balance_for_user(user=alice) == balance
    assert list(LedgerEntry.objects.order_by("pk").values_list("kind", "amount")) == entries
    assert billing_audit() == []


def test_a_job_whose_webhook_cannot_be_recorded_still_succeeds(
    monkeypatch, alice_api, alice, alice_secret, classifier, row, receiver
):
    response = post_prediction(alice_api, classifier, row, receiver.url)
    prediction_id = response.json()["id"]

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(WebhookDelivery.objects, "get_or_create", broken)
    run_prediction(prediction_id)

    prediction = Prediction.objects.get(pk=prediction_id)
    assert prediction.status == "succeeded" and prediction.cost == Decimal("0.05")
    assert not WebhookDelivery.objects.exists()
    assert [kind for (kind,) in LedgerEntry.objects.filter(prediction=prediction).values_list("kind")] == [
        "prediction_charge"
    ]


def test_at_most_one_delivery_of_a_job_is_in_flight(alice_api, alice_secret, classifier, row, receiver):
    response = alice_api.post(
        PREDICTIONS,
        {
            "model": classifier.pk,
            "inputs": row,
            "webhook": receiver.url,
            "webhook_events": ["start", "completed"],
        },
        format="json",
    )
    run_prediction(response.json()["id"])
    subscription = WebhookSubscription.objects.get()
    start = timezone.now()
    # Another worker is sending one of this job's deliveries (it holds the lease).
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        in_flight_until=start + timedelta(seconds=60)
    )

    assert webhook_subscription_deliver(subscription_id=subscription.pk, now=start) == 0
    assert webhooks_deliver_due(now=start + timedelta(seconds=59)) == 0
    assert receiver.requests == []

    # Its lease ran out (the worker died): the deliveries go, one after the other, in order.
    assert webhooks_deliver_due(now=start + timedelta(seconds=61)) == 2
    assert [request.headers["webhook-event"] for request in receiver.requests] == [
        "prediction.start",
        "prediction.completed",
    ]
    subscription.refresh_from_db()
    assert subscription.in_flight_until is None


def test_a_user_never_sees_another_users_deliveries(
    alice_api, bob_api, alice_secret, classifier, row, receiver, client, bob, alice
):
    response = post_prediction(alice_api, classifier, row, receiver.url)
    prediction_id = response.json()["id"]
    run_prediction(prediction_id)
    webhooks_deliver_due()
    assert len(alice_api.get(f"{PREDICTIONS}{prediction_id}/deliveries/").json()) == 1

    assert bob_api.get(f"{PREDICTIONS}{prediction_id}/deliveries/").status_code == 404
    client.force_login(bob)
    assert client.get(f"/predictions/{prediction_id}/").status_code == 404
    # Alice's page lists the delivery and its attempt.
    client.force_login(alice)
    page = client.get(f"/predictions/{prediction_id}/").content.decode()
    assert "Webhook deliveries" in page and receiver.url in page and "delivered" in page

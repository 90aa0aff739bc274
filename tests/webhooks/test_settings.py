"""A user's webhook settings: the signing secret (shown once, on the profile page and
by the API), the default URL (profile page and PATCH me/), and what a submission needs."""

from __future__ import annotations

import json

from billing.selectors import balance_for_user
from mlmodels.tasks import experiment_task
from predictions.models import Prediction
from predictions.tasks import run_prediction
from webhooks.models import WebhookSettings
from webhooks.services import webhooks_deliver_due

ME = "/api/v1/me/"
SECRET = "/api/v1/me/webhook-secret/"
PROFILE = "/accounts/profile/"


def test_the_api_answers_a_new_secret_once(alice_api, alice):
    made = alice_api.post(SECRET)
    assert made.status_code == 201
    secret = made.json()["webhook_secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    me = alice_api.get(ME).json()
    assert me["webhook_secret"] is None and me["webhook_secret_created_at"]
    assert secret not in json.dumps(me)

    again = alice_api.post(SECRET).json()["webhook_secret"]
    assert again != secret
    assert WebhookSettings.objects.get(user=alice).secret == again


def test_the_profile_page_shows_a_new_secret_once(alice_web, alice):
    page = alice_web.get(PROFILE).content.decode()
    assert "No secret yet" in page
    response = alice_web.post("/accounts/profile/webhooks/secret/", follow=True)
    secret = WebhookSettings.objects.get(user=alice).secret
    assert secret in response.content.decode()
    assert "this once" in response.content.decode()
    later = alice_web.get(PROFILE).content.decode()
    assert secret not in later and "it is not shown again" in later


def test_the_default_url_applies_when_a_request_names_none(
    alice_api, alice, alice_secret, classifier, row, receiver
):
    changed = alice_api.patch(ME, {"webhook_url": receiver.url}, format="json")
    assert changed.status_code == 200 and changed.json()["webhook_url"] == receiver.url
    response = alice_api.post("/api/v1/predictions/", {"model": classifier.pk, "inputs": row}, format="json")
    run_prediction(response.json()["id"])
    webhooks_deliver_due()
    [request] = receiver.requests
    assert json.loads(request.body)["id"] == response.json()["id"]

    # Removed: the next job sends nothing.
    assert alice_api.patch(ME, {"webhook_url": ""}, format="json").json()["webhook_url"] == ""
    response = alice_api.post("/api/v1/predictions/", {"model": classifier.pk, "inputs": row}, format="json")
    run_prediction(response.json()["id"])
    assert webhooks_deliver_due() == 0 and len(receiver.requests) == 1


def test_the_profile_page_sets_the_default_url(alice_web, alice, alice_secret, receiver, settings):
    alice_web.post("/accounts/profile/webhooks/default-url/", {"url": receiver.url})
    assert WebhookSettings.objects.get(user=alice).default_url == receiver.url
    assert receiver.url in alice_web.get(PROFILE).content.decode()

    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = alice_web.post(
        "/accounts/profile/webhooks/default-url/", {"url": "https://10.0.0.1/x"}, follow=True
    )
    assert "10.0.0.1, a private address" in response.content.decode()
    assert WebhookSettings.objects.get(user=alice).default_url == receiver.url


def test_a_bad_default_url_is_a_400_naming_the_field(alice_api, alice, alice_secret, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    response = alice_api.patch(ME, {"webhook_url": "http://example.com/hook"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["webhook_url"]
    assert WebhookSettings.objects.get(user=alice).default_url == ""


def test_a_default_url_needs_a_secret_first(alice_api, alice, receiver):
    response = alice_api.patch(ME, {"webhook_url": receiver.url}, format="json")
    assert response.status_code == 400
    assert "secret" in response.json()["errors"]["webhook_url"][0]
    assert not WebhookSettings.objects.filter(user=alice).exclude(default_url="").exists()


def test_a_webhook_without_a_secret_is_refused_before_the_charge(alice_api, alice, classifier, row, receiver):
    before = balance_for_user(user=alice)
    response = alice_api.post(
        "/api/v1/predictions/",
        {"model": classifier.pk, "inputs": row, "webhook": receiver.url},
        format="json",
    )
    assert response.status_code == 400
    assert "secret" in response.json()["errors"]["webhook"][0]
    assert balance_for_user(user=alice) == before and not Prediction.objects.exists()


def test_a_training_with_a_refused_webhook_is_not_charged(alice_api, alice, alice_secret, dataset, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    before = balance_for_user(user=alice)
    response = alice_api.post(
        "/api/v1/models/",
        {
            "name": "churn",
            "dataset": dataset.pk,
            "target": "label",
            "algorithm": "logistic_regression",
            "webhook": "http://127.0.0.1:9/hook",
        },
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["webhook"]
    assert balance_for_user(user=alice) == before


def test_an_experiment_refuses_a_private_webhook_before_the_charge(
    alice_api, alice, alice_secret, dataset, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    before = balance_for_user(user=alice)
    response = alice_api.post(
        "/api/v1/experiments/",
        {"dataset": dataset.pk, "target": "label", "max_trials": 2, "webhook": "https://10.9.9.9/hook"},
        format="json",
    )
    assert response.status_code == 400 and list(response.json()["errors"]) == ["webhook"]
    assert balance_for_user(user=alice) == before


def test_a_finished_experiment_sends_its_leaderboard(
    alice_api, alice_secret, dataset, receiver, readme_verify
):
    response = alice_api.post(
        "/api/v1/experiments/",
        {
            "dataset": dataset.pk,
            "target": "label",
            "algorithms": ["logistic_regression"],
            "max_trials": 1,
            "cv_folds": 2,
            "webhook": receiver.url,
        },
        format="json",
    )
    assert response.status_code == 202, response.json()
    experiment_task(response.json()["id"])
    webhooks_deliver_due()
    [request] = receiver.requests
    body = json.loads(request.body)
    assert body["status"] == "succeeded" and len(body["leaderboard"]) == 1
    assert request.headers["webhook-event"] == "experiment.completed"
    assert readme_verify(alice_secret, request.headers, request.body)
    listed = alice_api.get(f"/api/v1/experiments/{body['id']}/deliveries/").json()
    assert [item["status"] for item in listed] == ["delivered"]

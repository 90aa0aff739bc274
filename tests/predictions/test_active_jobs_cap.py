"""MAX_ACTIVE_JOBS_PER_USER (issue 13, item 2): one user's queued + running jobs are
bounded, over every kind; beyond it a submission is refused with 429 before anything is
kept or charged, and other users are not affected. No worker runs: jobs stay queued."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from predictions import services
from predictions.models import Prediction


@pytest.fixture
def cap_of_two(settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 2


def _predict(client, model_id, row, **headers):
    return client.post("/api/v1/predictions/", {"model": model_id, "inputs": row}, format="json", **headers)


def test_a_submission_beyond_the_cap_is_refused_and_costs_nothing(
    cap_of_two, alice, alice_api, classifier, row, balance
):
    assert _predict(alice_api, classifier.pk, row).status_code == 202
    assert _predict(alice_api, classifier.pk, row).status_code == 202
    paid = balance(alice)
    charges = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count()

    refused = _predict(alice_api, classifier.pk, row, HTTP_IDEMPOTENCY_KEY="third")
    assert refused.status_code == 429
    assert refused["Retry-After"]
    body = refused.json()
    assert "2 jobs queued or running" in body["detail"]
    assert body["limit"] == 2 and body["active_jobs"] == 2
    assert Prediction.objects.count() == 2
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count() == charges
    assert balance(alice) == paid

    # Once one job ends (here: canceled and refunded) there is room again, and the same
    # Idempotency-Key may be used, since the refused request kept nothing.
    services.prediction_cancel(user=alice, prediction=Prediction.objects.first())
    again = _predict(alice_api, classifier.pk, row, HTTP_IDEMPOTENCY_KEY="third")
    assert again.status_code == 202


def test_another_users_jobs_do_not_count(cap_of_two, alice_api, bob_api, classifier, row):
    classifier.is_public = True
    classifier.save(update_fields=["is_public"])
    for _ in range(2):
        assert _predict(alice_api, classifier.pk, row).status_code == 202
    assert _predict(alice_api, classifier.pk, row).status_code == 429
    assert _predict(bob_api, classifier.pk, row).status_code == 202


def test_training_counts_towards_the_same_cap(cap_of_two, alice, alice_api, classifier, row, make_model):
    """A training job queued for alice takes one of her places for predictions too."""
    from mlmodels.models import TrainedModel

    queued = make_model(owner=alice, task="classification", name="another")
    TrainedModel.objects.filter(pk=queued.pk).update(status=TrainedModel.Status.QUEUED, started_at=None)
    assert _predict(alice_api, classifier.pk, row).status_code == 202
    assert _predict(alice_api, classifier.pk, row).status_code == 429


def test_the_prediction_page_says_why(cap_of_two, alice, alice_web, classifier, row):
    for _ in range(2):
        services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row)
    before = Prediction.objects.count()
    names = [feature["name"] for feature in classifier.feature_schema["features"]]
    fields = {f"row-feature_{index}": str(row[name]).lower() for index, name in enumerate(names)}
    page = alice_web.post(f"/predictions/predict/{classifier.pk}/", {"mode": "row", **fields})
    assert Prediction.objects.count() == before
    assert b"2 jobs queued or running" in page.content


def test_a_balance_stays_exact_when_refused(cap_of_two, alice, alice_api, classifier, row, balance):
    for _ in range(2):
        _predict(alice_api, classifier.pk, row)
    before = balance(alice)
    for _ in range(3):
        assert _predict(alice_api, classifier.pk, row).status_code == 429
    assert balance(alice) == before
    assert before < Decimal("500.00")

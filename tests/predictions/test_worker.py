"""Round trips through a real ``manage.py qcluster`` process and the broker (never the
synchronous shortcut), and concurrent submissions on separate database connections."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.audit import billing_audit
from billing.models import LedgerEntry
from predictions import services
from predictions.models import Prediction
from tests.conftest import wait_for

URL = "/api/v1/predictions/"

pytestmark = pytest.mark.worker


def finished(pk):
    def check():
        prediction = Prediction.objects.get(pk=pk)
        return prediction if prediction.is_finished else None

    return check


def test_json_and_csv_predictions_round_trip_through_a_real_worker(
    worker, alice_api, alice, classifier, row, make_csv, balance
):
    # JSON, answered within Prefer: wait with the results inline.
    response = alice_api.post(
        URL,
        {"model": classifier.pk, "inputs": [row, {**row, "age": 20}]},
        format="json",
        HTTP_PREFER="wait=30",
    )
    assert response.status_code == 201, (response.json(), worker.log()[-2000:])
    body = response.json()
    assert body["status"] == "succeeded" and body["progress"] == 100
    assert [set(result) for result in body["results"]] == [{"prediction", "probabilities"}] * 2
    assert set(body["results"][0]["probabilities"]) == {"no", "yes"}
    assert body["download_url"].endswith(f"/predictions/{body['id']}/download/")
    assert body["started_at"] and body["finished_at"] and body["scoring_seconds"] > 0
    download = alice_api.get(f"{URL}{body['id']}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).decode().splitlines()[0] == (
        "age,income,color,member,prediction,probability_no,probability_yes"
    )

    # A CSV file, polled until it is done.
    upload = SimpleUploadedFile("rows.csv", make_csv(300).encode(), content_type="text/csv")
    response = alice_api.post(URL, {"model": classifier.pk, "file": upload}, format="multipart")
    assert response.status_code == 202
    prediction = wait_for(finished(response.json()["id"]), timeout=60, what="the CSV prediction")
    assert prediction.status == "succeeded", prediction.error
    download = alice_api.get(f"{URL}{prediction.pk}/download/")
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(rows) == 300
    assert list(rows[0]) == [
        "age",
        "income",
        "color",
        "member",
        "prediction",
        "probability_no",
        "probability_yes",
    ]

    # The ledger holds exactly one charge per job, for exactly its cost.
    charges = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).order_by("id")
    assert [(entry.prediction_id, entry.amount) for entry in charges] == [
        (body["id"], Decimal("-0.10")),
        (prediction.pk, Decimal("-15.00")),
    ]
    assert balance(alice) == Decimal("484.90")
    assert billing_audit() == []
    # The worker recorded which task ran each job, and counted its model cache lookups.
    assert all(
        Prediction.objects.filter(pk__in=[body["id"], prediction.pk]).values_list("task_id", flat=True)
    )
    from operations.selectors import counter_values

    counts = counter_values(prefix="model_cache_")
    assert counts.get("model_cache_hits", 0) + counts.get("model_cache_misses", 0) == 2


def test_a_job_that_fails_in_the_worker_is_refunded_once(
    worker, alice_api, alice, classifier, row, settings, balance
):
    artifact = Path(settings.MEDIA_ROOT) / classifier.artifact
    artifact.write_bytes(artifact.read_bytes()[:-10])

    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": [row] * 3}, format="json", HTTP_PREFER="wait=30"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed"
    assert "changed since it was saved" in body["error"]
    charge = LedgerEntry.objects.get(prediction_id=body["id"], kind=LedgerEntry.Kind.PREDICTION_CHARGE)
    refund = LedgerEntry.objects.get(prediction_id=body["id"], kind=LedgerEntry.Kind.REFUND)
    assert refund.refund_of == charge and refund.amount == Decimal("0.15") == -charge.amount
    assert balance(alice) == Decimal("500.00")
    assert billing_audit() == []


def test_a_lost_queued_job_is_enqueued_again_and_completes(worker, alice, classifier, row, settings, balance):
    # A job whose task never reached the broker (the web process died after commit).
    prediction = Prediction.objects.create(
        owner=alice,
        model=classifier,
        token="lost",
        input_kind="json",
        inputs=[row],
        rows=1,
        price_per_row=classifier.price_per_row,
        cost=Decimal("0.05"),
        attempts=1,
        enqueued_at=timezone.now() - timedelta(seconds=settings.QUEUED_STALE_SECONDS + 1),
    )
    from billing.services import account_debit

    account_debit(
        user=alice, amount=Decimal("0.05"), kind=LedgerEntry.Kind.PREDICTION_CHARGE, prediction=prediction
    )

    assert services.prediction_sweep().requeued == [prediction.pk]

    prediction = wait_for(finished(prediction.pk), timeout=60, what="the re-enqueued prediction")
    assert prediction.status == "succeeded" and prediction.attempts == 2
    assert balance(alice) == Decimal("499.95")
    assert billing_audit() == []

"""/metrics: Prometheus text that parses, HTTP requests counted by view, and the
service's numbers, computed from the database, moving after real work."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from billing.models import LedgerEntry
from core.counters import record_model_cache
from predictions.services import prediction_claim, prediction_succeed
from predictions.tasks import run_prediction
from tests.observability.conftest import Scrape
from tests.observability.helpers import submit

BASE_DIR = Path(__file__).resolve().parents[2]


def test_metrics_answer_when_nothing_has_happened_yet(db, scrape):
    from django_q.brokers import get_broker

    get_broker().purge_queue()  # a shared Redis may hold other runs' tasks
    metrics = scrape()

    assert metrics.value("mlservice_database_metrics_up") == 1
    assert metrics.value("mlservice_broker_up") == 1
    assert metrics.value("mlservice_queue_depth") == 0
    for kind in ("prediction", "training"):
        for status in ("queued", "running"):
            assert metrics.has("mlservice_jobs", kind=kind, status=status)
            assert metrics.value("mlservice_jobs", kind=kind, status=status) == 0
        assert metrics.value("mlservice_job_queue_wait_seconds_count", kind=kind) == 0
    assert metrics.value("mlservice_prediction_duration_seconds_count") == 0
    assert metrics.value("mlservice_model_cache_hits_total") == 0
    assert metrics.value("mlservice_model_cache_misses_total") == 0
    assert not metrics.has("mlservice_predictions_submitted_total")


def test_http_requests_are_counted_by_view_method_and_status(db, client, alice_api, scrape):
    before = scrape()
    assert alice_api.get("/api/v1/predictions/").status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    after = scrape()

    listed = {"view": "prediction-list", "method": "GET"}
    assert after.value("mlservice_http_requests_total", status="200", **listed) == (
        before.value("mlservice_http_requests_total", status="200", **listed) + 1
    )
    assert after.value("mlservice_http_request_duration_seconds_count", **listed) == (
        before.value("mlservice_http_request_duration_seconds_count", **listed) + 1
    )
    assert after.value("mlservice_http_requests_total", view="unmatched", status="404") == (
        before.value("mlservice_http_requests_total", view="unmatched", status="404") + 1
    )
    # The first scrape counts itself by the time of the second.
    assert after.value("mlservice_http_requests_total", view="metrics", status="200") >= 1


def test_counters_move_after_a_real_prediction(alice, alice_api, trained_model, scrape):
    model_labels = {"model_id": str(trained_model.pk), "model": "churn v1"}
    before = scrape()

    prediction = submit(alice_api, trained_model)
    queued = scrape()
    assert queued.value("mlservice_jobs", kind="prediction", status="queued") == 1
    assert queued.value("mlservice_predictions_submitted_total", **model_labels) == 1

    assert run_prediction(prediction.pk) == f"prediction {prediction.pk} succeeded"
    prediction.refresh_from_db()
    assert prediction.status == "succeeded"
    after = scrape()

    assert after.value("mlservice_jobs", kind="prediction", status="queued") == 0
    assert after.value("mlservice_predictions_finished_total", status="succeeded", **model_labels) == 1
    assert after.value("mlservice_prediction_rows_scored_total", **model_labels) == 3
    assert after.value("mlservice_prediction_duration_seconds_count", status="succeeded") == (
        before.value("mlservice_prediction_duration_seconds_count", status="succeeded") + 1
    )
    assert after.value("mlservice_job_queue_wait_seconds_count", kind="prediction") == 1
    # The model itself was trained through the services: a training fee and one training.
    assert (
        after.value("mlservice_trainings_finished_total", algorithm="logistic_regression", status="ready")
        == 1
    )
    assert after.value("mlservice_training_duration_seconds_count", status="ready") == 1
    assert Decimal(
        str(after.value("mlservice_ledger_coins_total", kind="prediction_charge", direction="debit"))
    ) == (prediction.cost)
    assert after.value("mlservice_ledger_coins_total", kind="training_fee", direction="debit") == float(
        trained_model.training_fee
    )
    assert after.value("mlservice_ledger_entries_total", kind="signup_bonus") == 1
    # The worker looked the model up in its cache once (a hit or a miss, depending on
    # what this process loaded before).
    lookups = ("mlservice_model_cache_hits_total", "mlservice_model_cache_misses_total")
    assert sum(after.value(name) for name in lookups) == sum(before.value(name) for name in lookups) + 1


def test_a_canceled_prediction_shows_as_refunded(alice_api, trained_model, scrape):
    prediction = submit(alice_api, trained_model)
    assert alice_api.post(f"/api/v1/predictions/{prediction.pk}/cancel/").status_code == 200

    metrics = scrape()
    refund = LedgerEntry.objects.get(kind="refund", prediction=prediction)
    assert metrics.value("mlservice_ledger_coins_total", kind="refund", direction="credit") == float(
        refund.amount
    )
    assert metrics.value("mlservice_predictions_finished_total", status="canceled") == 1
    # Never started: no duration and no queue wait.
    assert metrics.value("mlservice_job_queue_wait_seconds_count", kind="prediction") == 0


def test_duration_and_queue_wait_buckets_are_counted_as_jobs_move(
    alice_api, trained_model, scrape, monkeypatch
):
    # Real jobs, claimed and finished at known times, so every bucket can be checked.
    durations = [0.05, 3, 100]
    waits = [0.2, 0.2, 45]
    for duration, wait in zip(durations, waits, strict=True):
        prediction = submit(alice_api, trained_model)
        started = prediction.created_at + timedelta(seconds=wait)
        with monkeypatch.context() as clock:
            clock.setattr(timezone, "now", lambda started=started: started)
            assert prediction_claim(prediction_id=prediction.pk)
            finished = started + timedelta(seconds=duration)
            clock.setattr(timezone, "now", lambda finished=finished: finished)
            assert prediction_succeed(
                prediction_id=prediction.pk, result_file="", results=[], scoring_seconds=duration
            )

    metrics = scrape()
    bucket = "mlservice_prediction_duration_seconds_bucket"
    assert metrics.value(bucket, status="succeeded", le="0.1") == 1
    assert metrics.value(bucket, status="succeeded", le="2.5") == 1
    assert metrics.value(bucket, status="succeeded", le="5.0") == 2
    assert metrics.value(bucket, status="succeeded", le="60.0") == 2
    assert metrics.value(bucket, status="succeeded", le="120.0") == 3
    assert metrics.value(bucket, status="succeeded", le="+Inf") == 3
    assert metrics.value("mlservice_prediction_duration_seconds_sum", status="succeeded") == pytest.approx(
        103.05
    )
    assert metrics.value(bucket, status="failed", le="+Inf") == 0

    wait = "mlservice_job_queue_wait_seconds_bucket"
    assert metrics.value(wait, kind="prediction", le="0.1") == 0
    assert metrics.value(wait, kind="prediction", le="0.25") == 2
    assert metrics.value(wait, kind="prediction", le="30.0") == 2
    assert metrics.value(wait, kind="prediction", le="60.0") == 3
    assert metrics.value("mlservice_job_queue_wait_seconds_sum", kind="prediction") == pytest.approx(45.4)


def test_model_cache_hits_and_misses_are_shared_counters(db, scrape):
    record_model_cache(hit=False)
    record_model_cache(hit=True)
    record_model_cache(hit=True)

    metrics = scrape()
    assert metrics.value("mlservice_model_cache_hits_total") == 2
    assert metrics.value("mlservice_model_cache_misses_total") == 1


def test_in_development_metrics_are_for_loopback_clients_without_a_token(db, client, settings):
    settings.METRICS_TOKEN = ""
    assert settings.METRICS_LOOPBACK_WITHOUT_TOKEN  # DEBUG is on where the settings were read
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert refused.status_code == 403
    assert b"METRICS_TOKEN" in refused.content


def test_a_metrics_token_is_required_from_everyone_once_set(db, client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-metrics-token").status_code == 401
    answered = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token"
    )
    assert answered.status_code == 200
    assert b"mlservice_http_requests_total" in answered.content


def test_with_debug_off_a_loopback_client_without_the_token_is_refused(db, client, settings):
    """Behind a reverse proxy on the same host (deploy/, README) every request reaches
    gunicorn from 127.0.0.1: with DEBUG off the address proves nothing, only the token."""
    settings.METRICS_TOKEN = ""
    settings.METRICS_LOOPBACK_WITHOUT_TOKEN = False

    proxied = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert proxied.status_code == 403
    assert b"METRICS_TOKEN" in proxied.content and b"mlservice_" not in proxied.content

    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    scraped = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert scraped.status_code == 200


def test_debug_off_turns_off_loopback_access_without_a_token(tmp_path):
    shown = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.METRICS_LOOPBACK_WITHOUT_TOKEN)",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 50, "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[-1] == "False"


def test_private_model_names_are_shown_only_with_the_token(alice, alice_api, trained_model, client, settings):
    submit(alice_api, trained_model)
    settings.METRICS_TOKEN = ""
    by_id = {"model_id": str(trained_model.pk), "model": str(trained_model.pk)}

    without_token = client.get("/metrics")
    assert without_token.status_code == 200
    assert b"churn" not in without_token.content
    assert Scrape(without_token.content.decode()).value("mlservice_predictions_submitted_total", **by_id) == 1

    trained_model.is_public = True
    trained_model.save(update_fields=["is_public"])
    published = Scrape(client.get("/metrics").content.decode())
    named = {"model_id": str(trained_model.pk), "model": "churn v1"}
    assert published.value("mlservice_predictions_submitted_total", **named) == 1

    trained_model.is_public = False
    trained_model.save(update_fields=["is_public"])
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    with_token = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token")
    assert Scrape(with_token.content.decode()).value("mlservice_predictions_submitted_total", **named) == 1

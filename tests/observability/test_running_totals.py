"""/metrics reads running totals kept as jobs move and coins are posted: a scrape costs
the same few queries however many jobs there are, the totals follow every move, a
rolled-back event counts nothing, and the upgrade seeds them from existing rows."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.models import CoinAccount
from billing.services import InsufficientFunds
from core.models import ServiceCounter
from mlmodels import services as mlmodels_services
from predictions.models import Prediction
from predictions.services import prediction_claim, prediction_fail, prediction_submit
from predictions.tasks import run_prediction
from tests.observability.helpers import ROWS, submit

seed = importlib.import_module("core.migrations.0003_seed_running_totals")


def _scrape_queries(scrape) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        metrics = scrape()
    for query in queries.captured_queries:
        sql = query["sql"]
        # No whole-table aggregate: the ledger is never read, and jobs only in flight.
        assert "billing_ledgerentry" not in sql, sql
        if "predictions_prediction" in sql or "mlmodels_trainedmodel" in sql:
            assert '"status" IN' in sql or '"id" IN' in sql, sql
    return metrics, len(queries)


def test_a_scrape_runs_the_same_queries_for_2_or_40_predictions(alice_api, trained_model, scrape, settings):
    settings.PREDICTION_BATCH_JOBS = 1  # every other job stays queued (a batch would take them along)
    for _ in range(2):
        run_prediction(submit(alice_api, trained_model).pk)
    few, queries_for_few = _scrape_queries(scrape)
    assert few.value("mlservice_predictions_finished_total", status="succeeded") == 2

    for number in range(38):
        prediction = submit(alice_api, trained_model)
        if number % 2:
            run_prediction(prediction.pk)
    many, queries_for_many = _scrape_queries(scrape)
    assert many.value("mlservice_predictions_submitted_total") == 40
    assert many.value("mlservice_predictions_finished_total", status="succeeded") == 21
    assert many.value("mlservice_jobs", kind="prediction", status="queued") == 19
    assert queries_for_many == queries_for_few


def test_totals_follow_submit_succeed_fail_cancel_and_refund(
    alice, alice_api, trained_model, scrape, settings
):
    settings.PREDICTION_BATCH_JOBS = 1  # each job moves on its own here
    labels = {"model_id": str(trained_model.pk), "model": "churn v1"}
    succeeded, failed, canceled, waiting = (submit(alice_api, trained_model) for _ in range(4))
    cost = float(succeeded.cost)
    submitted = scrape()
    assert submitted.value("mlservice_predictions_submitted_total", **labels) == 4
    assert submitted.value("mlservice_ledger_entries_total", kind="prediction_charge") == 4
    assert submitted.value(
        "mlservice_ledger_coins_total", kind="prediction_charge", direction="debit"
    ) == pytest.approx(4 * cost)

    run_prediction(succeeded.pk)
    assert prediction_claim(prediction_id=failed.pk)
    assert prediction_fail(prediction_id=failed.pk, error="The worker gave up.")
    assert alice_api.post(f"/api/v1/predictions/{canceled.pk}/cancel/").status_code == 200
    # Losing a race counts nothing: the canceled job cannot be failed or claimed again.
    assert not prediction_fail(prediction_id=canceled.pk, error="late")
    assert not prediction_claim(prediction_id=canceled.pk)

    after = scrape()
    for status in ("succeeded", "failed", "canceled"):
        assert after.value("mlservice_predictions_finished_total", status=status, **labels) == 1
    assert after.value("mlservice_predictions_submitted_total", **labels) == 4
    assert after.value("mlservice_prediction_rows_scored_total", **labels) == len(ROWS)
    assert after.value("mlservice_prediction_duration_seconds_count", status="succeeded") == 1
    assert after.value("mlservice_prediction_duration_seconds_count", status="failed") == 1
    assert after.value("mlservice_job_queue_wait_seconds_count", kind="prediction") == 2
    assert after.value("mlservice_jobs", kind="prediction", status="queued") == 1
    assert after.value("mlservice_ledger_entries_total", kind="refund") == 2
    assert after.value("mlservice_ledger_coins_total", kind="refund", direction="credit") == pytest.approx(
        2 * cost
    )
    assert waiting.pk  # still queued, counted as submitted only

    # A training deleted before it ran: failed, and its fee refunded.
    request = mlmodels_services.training_validate(
        user=alice,
        name="churn",
        dataset=trained_model.dataset_id,
        target="label",
        algorithm="logistic_regression",
    )
    model = mlmodels_services.model_submit(user=alice, request=request, enqueue=False)
    mlmodels_services.model_delete(model=model)
    trained = scrape()
    algorithm = {"algorithm": "logistic_regression"}
    assert trained.value("mlservice_trainings_submitted_total", **algorithm) == 2
    assert trained.value("mlservice_trainings_finished_total", status="ready", **algorithm) == 1
    assert trained.value("mlservice_trainings_finished_total", status="failed", **algorithm) == 1
    assert trained.value("mlservice_training_duration_seconds_count", status="failed") == 0  # never started
    assert trained.value("mlservice_ledger_coins_total", kind="training_fee", direction="debit") == float(
        2 * trained_model.training_fee
    )
    assert trained.value("mlservice_ledger_entries_total", kind="refund") == 3


def test_a_rolled_back_submit_counts_nothing(alice, trained_model, scrape):
    before = scrape()
    with pytest.raises(RuntimeError), transaction.atomic():
        prediction_submit(user=alice, model_id=trained_model.pk, inputs=ROWS)
        raise RuntimeError("something after the submit failed: its transaction is rolled back")
    CoinAccount.objects.filter(user=alice).update(balance=Decimal("0.01"))
    with pytest.raises(InsufficientFunds):
        prediction_submit(user=alice, model_id=trained_model.pk, inputs=ROWS)

    after = scrape()
    assert not Prediction.objects.exists()
    for name in (
        "mlservice_predictions_submitted_total",
        "mlservice_ledger_entries_total",
        "mlservice_ledger_coins_total",
    ):
        assert after.value(name) == before.value(name), name


def test_the_upgrade_seeds_the_totals_from_the_rows_written_before(alice_api, trained_model, scrape):
    for number in range(5):
        prediction = submit(alice_api, trained_model)
        if number < 3:
            run_prediction(prediction.pk)
        elif number == 3:
            alice_api.post(f"/api/v1/predictions/{prediction.pk}/cancel/")
    counted = scrape()

    # An installation from before the counters: only the model cache's exist.
    ServiceCounter.objects.exclude(name__startswith="model_cache_").delete()
    assert scrape().value("mlservice_predictions_submitted_total") == 0
    seed.seed_running_totals(apps, None)
    seeded = scrape()

    totals = (
        "mlservice_predictions_",
        "mlservice_prediction_rows_scored",
        "mlservice_trainings_",
        "mlservice_ledger_",
        "mlservice_prediction_duration_seconds",
        "mlservice_training_duration_seconds",
        "mlservice_job_queue_wait_seconds",
    )
    compared = {sample.name for sample in counted.samples if sample.name.startswith(totals)}
    assert "mlservice_prediction_duration_seconds_bucket" in compared
    for name in compared:
        for sample in (s for s in counted.samples if s.name == name):
            assert seeded.value(name, **sample.labels) == pytest.approx(sample.value, abs=0.01), (
                name,
                sample.labels,
            )

    # Seeding again sets the same totals (it does not add to them).
    seed.seed_running_totals(apps, None)
    assert scrape().value("mlservice_predictions_submitted_total") == 5


def test_experiments_are_counted_by_task_and_final_status(alice_api, trained_model, scrape):
    body = {"dataset": trained_model.dataset_id, "target": "label", "max_trials": 2, "cv_folds": 2}
    waiting, canceled = (alice_api.post("/api/v1/experiments/", body, format="json").json() for _ in range(2))
    assert alice_api.post(f"/api/v1/experiments/{canceled['id']}/cancel/").status_code == 200

    metrics = scrape()
    assert metrics.value("mlservice_experiments_submitted_total", task="classification") == 2
    assert (
        metrics.value("mlservice_experiments_finished_total", task="classification", status="canceled") == 1
    )
    assert metrics.value("mlservice_jobs", kind="experiment", status="queued") == 1
    assert waiting["status"] == "queued"

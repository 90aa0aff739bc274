"""A worker that takes a small JSON prediction scores the other queued small JSON
predictions of the same model in the same call: each job still gets its own result,
file, success, charge and counts, exactly as if it had been scored alone."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from billing.audit import billing_audit
from billing.models import LedgerEntry
from core.counters import MODEL_CACHE_HITS, MODEL_CACHE_MISSES, counter_values
from predictions import services, tasks
from predictions.models import Prediction
from tests.predictions.conftest import submit_json

ROWS = [
    {"age": 61, "income": 72.5, "color": "red", "member": True},
    {"age": 19, "income": 20.0, "color": "blue", "member": False},
    {"age": 44, "income": 51.0, "color": "green", "member": True},
    {"age": 30, "income": 95.5, "color": "red", "member": False},
]


pytestmark = pytest.mark.usefixtures("empty_model_cache")


def results_alone(settings, user, model, inputs) -> list[dict]:
    """The results of the same rows scored as a job of their own."""
    settings.PREDICTION_BATCH_JOBS = 1
    prediction = submit_json(user, model, inputs)
    assert tasks.run_prediction(prediction.pk) == f"prediction {prediction.pk} succeeded"
    prediction.refresh_from_db()
    settings.PREDICTION_BATCH_JOBS = 16
    return prediction.results


def assert_same_results(batched: list[dict], alone: list[dict]) -> None:
    assert [result["prediction"] for result in batched] == [result["prediction"] for result in alone]
    for mine, theirs in zip(batched, alone, strict=True):
        assert mine["probabilities"] == pytest.approx(theirs["probabilities"], abs=1e-12)


def test_queued_small_jobs_of_one_model_are_scored_together_each_with_its_own_outcome(
    alice, staff, classifier, regressor, make_csv, settings
):
    jobs = [
        submit_json(alice, classifier, [ROWS[0]]),
        submit_json(staff, classifier, [ROWS[1], ROWS[2]]),  # another user, two rows
        submit_json(alice, classifier, ROWS[3]),
    ]
    other_model = submit_json(alice, regressor, [ROWS[0]])
    too_big = submit_json(alice, classifier, [ROWS[0]] * (tasks.BATCH_MAX_ROWS + 1))
    charges_before = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count()

    message = tasks.run_prediction(jobs[0].pk)

    assert message.startswith("batch of 3: ")
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Prediction.Status.SUCCEEDED and job.progress == 100
        assert job.started_at <= job.finished_at and job.scoring_seconds > 0
    # Each job its own rows, its own file: the same answers as scored alone.
    assert_same_results(jobs[0].results, results_alone(settings, alice, classifier, [ROWS[0]]))
    assert_same_results(jobs[1].results, results_alone(settings, staff, classifier, [ROWS[1], ROWS[2]]))
    assert_same_results(jobs[2].results, results_alone(settings, alice, classifier, ROWS[3]))
    for job in jobs:
        rows = list(csv.DictReader(io.StringIO((Path(settings.MEDIA_ROOT) / job.result_file).read_text())))
        assert [row["prediction"] for row in rows] == [result["prediction"] for result in job.results]
        assert [row["age"] for row in rows] == [str(record["age"]) for record in job.inputs]
        assert job.result_file.startswith(f"predictions/{job.owner_id}/")
    # Another model's job and a job over the batch size wait for their own tasks.
    for job in (other_model, too_big):
        job.refresh_from_db()
        assert job.status == Prediction.Status.QUEUED and job.started_at is None
    # The batch's jobs' own tasks, arriving later, find nothing to do.
    for job in jobs[1:]:
        assert tasks.run_prediction(job.pk) == f"prediction {job.pk} is not queued; nothing to do"
    # Charged once each at submit, nothing refunded, the books balance.
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count() == charges_before + 3
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).exists()
    assert billing_audit() == []


def test_one_model_lookup_is_counted_for_a_batch_and_each_job_is_counted_finished(alice, classifier):
    jobs = [submit_json(alice, classifier, [row]) for row in ROWS]
    before = counter_values()

    tasks.run_prediction(jobs[0].pk)

    after = counter_values()
    lookups = sum(after.get(name, 0) - before.get(name, 0) for name in (MODEL_CACHE_HITS, MODEL_CACHE_MISSES))
    assert lookups == 1
    finished = f"jobs_finished{{kind=prediction,model={classifier.pk},status=succeeded}}"
    assert after.get(finished, 0) - before.get(finished, 0) == len(ROWS)
    waits = "job_queue_wait_ms{kind=prediction}"
    assert waits in after


def test_the_batch_size_is_bounded_by_the_setting(alice, classifier, settings):
    settings.PREDICTION_BATCH_JOBS = 2
    jobs = [submit_json(alice, classifier, [row]) for row in ROWS]

    assert tasks.run_prediction(jobs[0].pk).startswith("batch of 2: ")

    statuses = list(
        Prediction.objects.filter(pk__in=[job.pk for job in jobs])
        .order_by("pk")
        .values_list("status", flat=True)
    )
    assert statuses == ["succeeded", "succeeded", "queued", "queued"]


def test_a_canceled_job_is_not_taken_into_a_batch(alice, classifier):
    first, canceled, last = (submit_json(alice, classifier, [row]) for row in ROWS[:3])
    services.prediction_cancel(user=alice, prediction=canceled)

    assert tasks.run_prediction(first.pk).startswith("batch of 2: ")

    canceled.refresh_from_db()
    last.refresh_from_db()
    assert canceled.status == Prediction.Status.CANCELED and canceled.results is None
    assert last.status == Prediction.Status.SUCCEEDED


def test_a_job_that_cannot_be_scored_fails_alone_and_is_refunded_while_the_others_succeed(
    alice, classifier, balance
):
    good, bad, other = (submit_json(alice, classifier, [row]) for row in ROWS[:3])
    # Stored values that no longer fit the schema, and raw input that cannot be read:
    # the batch cannot be scored as one, so each job is scored alone.
    Prediction.objects.filter(pk=bad.pk).update(coerced_inputs=None, inputs=[{"age": "old"}])
    paid = balance(alice)

    message = tasks.run_prediction(good.pk)

    assert message.startswith(f"prediction {good.pk} succeeded; prediction {bad.pk} failed: ")
    statuses = dict(Prediction.objects.filter(pk__in=[good.pk, bad.pk, other.pk]).values_list("pk", "status"))
    assert statuses == {good.pk: "succeeded", bad.pk: "failed", other.pk: "succeeded"}
    bad.refresh_from_db()
    assert "refunded" in bad.error and "Traceback" not in bad.error
    assert balance(alice) == paid + bad.cost and bad.cost > Decimal("0")
    assert billing_audit() == []


@pytest.mark.parametrize("scored_together", [True, False], ids=["in the batch", "job by job"])
def test_an_internal_error_in_one_job_fails_the_task_after_the_others_have_their_outcome(
    alice, classifier, balance, monkeypatch, caplog, scored_together
):
    good, broken, other = (submit_json(alice, classifier, [row]) for row in ROWS[:3])
    json_outcome, predict_frame = tasks._json_outcome, tasks.predict_frame
    if not scored_together:  # the batch cannot be scored as one: each job is scored alone

        def not_together(pipeline, coerced, schema):
            if len(coerced) > 1:
                raise ValueError("not as one")
            return predict_frame(pipeline, coerced, schema)

        monkeypatch.setattr(tasks, "predict_frame", not_together)

    def breaks_on_one(prediction, *args):
        if prediction.pk == broken.pk:
            raise RuntimeError("disk on fire")
        return json_outcome(prediction, *args)

    monkeypatch.setattr(tasks, "_json_outcome", breaks_on_one)
    paid = balance(alice)

    # django-q records the task as failed (operators see it)...
    with pytest.raises(RuntimeError, match="disk on fire"):
        tasks.run_prediction(good.pk)

    # ...once every job of it has its own outcome.
    assert ("scored job by job" in caplog.text) is not scored_together
    statuses = dict(
        Prediction.objects.filter(pk__in=[good.pk, broken.pk, other.pk]).values_list("pk", "status")
    )
    assert statuses == {good.pk: "succeeded", broken.pk: "failed", other.pk: "succeeded"}
    broken.refresh_from_db()
    assert (
        broken.error == "Scoring failed because of an internal error (it was logged). The cost was refunded."
    )
    assert balance(alice) == paid + broken.cost
    assert billing_audit() == []

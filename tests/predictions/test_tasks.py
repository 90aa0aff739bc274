"""The worker's task and the sweep, run in this process one task at a time (the round
trips through a real qcluster are in test_worker.py)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from billing.audit import billing_audit
from billing.models import LedgerEntry
from core.jobs.lifecycle import MAX_ENQUEUE_ATTEMPTS, RUNNING_GRACE_SECONDS
from predictions import services, tasks
from predictions.models import Prediction
from predictions.uploads import StoredCsv, input_relative_path, new_token
from tests.predictions.conftest import submit_json

URL = "/api/v1/predictions/"


pytestmark = pytest.mark.usefixtures("empty_model_cache")


def stored_csv(settings, user, text: str) -> StoredCsv:
    import hashlib

    from core.storage import StagedFile

    token = new_token()
    staged = StagedFile(input_relative_path(owner_id=user.pk, token=token))
    path = staged.path
    path.write_text(text)
    return StoredCsv(
        staged=staged,
        token=token,
        name="rows.csv",
        size=path.stat().st_size,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


# The input columns as sent (an extra one included), then ours.
RESULT_COLUMNS = [
    "age",
    "income",
    "color",
    "member",
    "note",
    "prediction",
    "probability_no",
    "probability_yes",
]


def refunds() -> int:
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count()


def test_a_json_prediction_succeeds_with_inline_results_and_a_result_file(alice, classifier, row, settings):
    prediction = submit_json(alice, classifier, [row, {**row, "age": 19, "color": "blue", "note": "=1+2"}])

    assert tasks.run_prediction(prediction.pk).endswith("succeeded")

    prediction.refresh_from_db()
    assert prediction.status == "succeeded" and prediction.progress == 100
    assert prediction.started_at <= prediction.finished_at
    assert prediction.scoring_seconds is not None and prediction.scoring_seconds > 0
    assert len(prediction.results) == 2
    for result in prediction.results:
        assert result["prediction"] in ("no", "yes")
        assert set(result["probabilities"]) == {"no", "yes"}
        assert sum(result["probabilities"].values()) == pytest.approx(1.0)
        best = max(result["probabilities"], key=result["probabilities"].get)
        assert result["prediction"] == best
    rows = read_csv(Path(settings.MEDIA_ROOT) / prediction.result_file)
    assert list(rows[0]) == RESULT_COLUMNS
    assert rows[0]["prediction"] == prediction.results[0]["prediction"]
    assert rows[1]["note"] == "'=1+2"  # a formula is neutralised in the download
    assert prediction.result_file == f"predictions/{alice.pk}/{prediction.token}-result.csv"


def test_a_regression_has_predictions_without_probabilities(alice, regressor, row):
    prediction = submit_json(alice, regressor, [row, row])
    tasks.run_prediction(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == "succeeded"
    assert [set(result) for result in prediction.results] == [{"prediction"}, {"prediction"}]
    assert isinstance(prediction.results[0]["prediction"], float)


def test_large_json_results_are_only_in_the_file(alice, classifier, row, settings):
    settings.PREDICTION_INLINE_ROWS = 2
    prediction = submit_json(alice, classifier, [row] * 3)
    tasks.run_prediction(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == "succeeded" and prediction.results is None
    assert len(read_csv(Path(settings.MEDIA_ROOT) / prediction.result_file)) == 3


def test_a_csv_prediction_writes_input_columns_prediction_and_probabilities(
    alice, alice_api, classifier, settings, make_csv
):
    settings.PREDICTION_CHUNK_ROWS = 100
    text = make_csv(250, extra=True).replace("n7\n", '=HYPERLINK("http://x")\n').replace("n8\n", "-2.5\n")
    upload = stored_csv(settings, alice, text)
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, upload=upload).prediction

    tasks.run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == "succeeded" and prediction.progress == 100
    assert prediction.results is None and prediction.scoring_seconds > 0
    response = alice_api.get(f"{URL}{prediction.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="prediction-{prediction.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 250
    assert list(rows[0]) == RESULT_COLUMNS
    assert rows[7]["note"] == '\'=HYPERLINK("http://x")'
    assert rows[8]["note"] == "-2.5"  # a plain number is left alone
    assert {row["prediction"] for row in rows} <= {"no", "yes"}
    assert float(rows[0]["probability_no"]) + float(rows[0]["probability_yes"]) == pytest.approx(1.0)
    detail = alice_api.get(f"{URL}{prediction.pk}/").json()
    assert detail["download_url"] == f"http://testserver{URL}{prediction.pk}/download/"


@pytest.mark.parametrize(
    ("threads", "expected"),
    [(1, [40, 80, 100]), (2, [20, 40, 60, 80, 100])],
    ids=["one thread", "two threads"],
)
def test_progress_is_recorded_per_chunk(
    alice, classifier, settings, make_csv, monkeypatch, threads, expected
):
    settings.PREDICTION_CHUNK_ROWS = 100
    settings.PREDICTION_SCORING_THREADS = threads  # each takes a share of the chunk
    prediction = services.prediction_submit(
        user=alice, model_id=classifier.pk, upload=stored_csv(settings, alice, make_csv(250))
    ).prediction
    seen = []
    original = services.prediction_progress

    def spy(*, prediction_id, percent):
        seen.append(percent)
        return original(prediction_id=prediction_id, percent=percent)

    monkeypatch.setattr(services, "prediction_progress", spy)
    tasks.run_prediction(prediction.pk)
    assert seen == expected
    prediction.refresh_from_db()
    assert prediction.progress == 100


def test_running_the_task_twice_does_nothing_the_second_time(alice, classifier, row):
    prediction = submit_json(alice, classifier, row)
    tasks.run_prediction(prediction.pk)
    prediction.refresh_from_db()
    finished_at = prediction.finished_at

    assert "nothing to do" in tasks.run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.finished_at == finished_at
    assert tasks.cache_misses == 1 and tasks.cache_hits == 0  # the second run never loaded anything


def test_a_canceled_prediction_is_never_scored(alice, classifier, row):
    prediction = submit_json(alice, classifier, row)
    services.prediction_cancel(user=alice, prediction=prediction)
    tasks.run_prediction(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == "canceled" and prediction.results is None


def test_a_tampered_artifact_fails_the_job_and_refunds_it_once(alice, classifier, row, settings, balance):
    prediction = submit_json(alice, classifier, [row, row])
    artifact = Path(settings.MEDIA_ROOT) / classifier.artifact
    artifact.write_bytes(artifact.read_bytes() + b"tampered")

    with pytest.raises(Exception, match="changed since it was saved"):
        tasks.run_prediction(prediction.pk)  # raised so django-q records the failed task

    prediction.refresh_from_db()
    assert prediction.status == "failed"
    assert "changed since it was saved" in prediction.error and "refunded" in prediction.error
    assert prediction.finished_at is not None and not prediction.result_file
    charge = LedgerEntry.objects.get(prediction=prediction, kind=LedgerEntry.Kind.PREDICTION_CHARGE)
    refund = LedgerEntry.objects.get(prediction=prediction, kind=LedgerEntry.Kind.REFUND)
    assert refund.refund_of == charge and refund.amount == -charge.amount
    assert balance(alice) == Decimal("500.00")
    assert list((Path(settings.MEDIA_ROOT) / "predictions").rglob("*-result.csv")) == []

    tasks.run_prediction(prediction.pk)
    services.prediction_fail(prediction_id=prediction.pk, error="again")
    assert refunds() == 1
    assert billing_audit() == []


def test_input_the_worker_cannot_score_fails_with_a_readable_error(alice, classifier, settings, make_csv):
    prediction = services.prediction_submit(
        user=alice, model_id=classifier.pk, upload=stored_csv(settings, alice, make_csv(3))
    ).prediction
    # The file changed after it was checked (it never should): still refused, never imputed.
    (Path(settings.MEDIA_ROOT) / prediction.input_file.name).write_text(
        "age,income,color,member\nx,1,red,true\n"
    )

    tasks.run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == "failed"
    assert "row 1, column 'age'" in prediction.error
    assert refunds() == 1


def test_the_model_cache_is_bounded_and_counts_hits(alice, make_model, row, settings):
    settings.MODEL_CACHE_SIZE = 1
    classifier = make_model(owner=alice)
    regressor = make_model(owner=alice, task="regression")
    for model in (classifier, classifier, regressor, classifier):
        tasks.run_prediction(submit_json(alice, model, row).pk)
    assert (tasks.cache_hits, tasks.cache_misses) == (1, 3)
    assert list(tasks._cache) == [classifier.artifact_sha256]


# --- The sweep -------------------------------------------------------------------------------


def test_the_sweep_fails_and_refunds_a_stuck_running_job(alice, classifier, row, balance, settings):
    prediction = submit_json(alice, classifier, row)
    assert services.prediction_claim(prediction_id=prediction.pk)
    long_ago = timezone.now() - timedelta(seconds=settings.TASK_TIMEOUT + RUNNING_GRACE_SECONDS + 5)
    Prediction.objects.filter(pk=prediction.pk).update(started_at=long_ago)
    fresh = submit_json(alice, classifier, row)
    services.prediction_claim(prediction_id=fresh.pk)

    report = services.prediction_sweep().as_dict()

    assert report == {
        "failed_running": [prediction.pk],
        "requeued": [],
        "failed_queued": [],
    }
    prediction.refresh_from_db()
    assert prediction.status == "failed" and "stopped responding" in prediction.error
    assert Prediction.objects.get(pk=fresh.pk).status == "running"
    assert refunds() == 1
    assert balance(alice) == Decimal("499.95")  # only the fresh job is paid for
    assert not services.prediction_succeed(
        prediction_id=prediction.pk, result_file="x.csv", results=None, scoring_seconds=0.1
    )
    services.prediction_sweep().as_dict()
    assert refunds() == 1
    assert billing_audit() == []


def test_the_sweep_enqueues_a_lost_queued_job_again_then_gives_up(alice, classifier, row, settings, balance):
    prediction = submit_json(alice, classifier, row)
    stale = timedelta(seconds=settings.QUEUED_STALE_SECONDS)

    assert services.prediction_sweep().as_dict()["requeued"] == []  # not stale yet

    Prediction.objects.filter(pk=prediction.pk).update(
        enqueued_at=timezone.now() - stale - timedelta(seconds=1)
    )
    assert services.prediction_sweep().as_dict()["requeued"] == [prediction.pk]
    prediction.refresh_from_db()
    assert prediction.attempts == 2 and prediction.status == "queued"
    assert timezone.now() - prediction.enqueued_at < timedelta(seconds=5)

    # The second wait is twice as long.
    Prediction.objects.filter(pk=prediction.pk).update(
        enqueued_at=timezone.now() - stale - timedelta(seconds=1)
    )
    assert services.prediction_sweep().as_dict()["requeued"] == []
    Prediction.objects.filter(pk=prediction.pk).update(
        enqueued_at=timezone.now() - 2 * stale - timedelta(seconds=1)
    )
    assert services.prediction_sweep().as_dict()["requeued"] == [prediction.pk]
    Prediction.objects.filter(pk=prediction.pk).update(
        enqueued_at=timezone.now() - 3 * stale - timedelta(seconds=1)
    )

    assert services.prediction_sweep().as_dict()["failed_queued"] == [prediction.pk]

    prediction.refresh_from_db()
    assert prediction.status == "failed" and prediction.attempts == MAX_ENQUEUE_ATTEMPTS
    assert "No worker started" in prediction.error
    assert balance(alice) == Decimal("500.00") and refunds() == 1
    assert "nothing to do" in tasks.run_prediction(prediction.pk)  # a late copy of the task
    assert billing_audit() == []


def test_a_result_that_arrives_after_the_sweep_gave_up_is_thrown_away(
    alice, classifier, row, settings, monkeypatch
):
    prediction = submit_json(alice, classifier, row)
    score_json = tasks._score_json

    def slow_worker(prediction, artifact, result_path, *monitoring):
        outcome = score_json(prediction, artifact, result_path, *monitoring)
        assert services.prediction_fail(prediction_id=prediction.pk, error="swept")  # meanwhile, the sweep
        return outcome

    monkeypatch.setattr(tasks, "_score_json", slow_worker)

    assert "failed by the sweep" in tasks.run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == "failed" and prediction.results is None and not prediction.result_file
    assert list((Path(settings.MEDIA_ROOT) / "predictions").rglob("*-result.csv")) == []
    assert refunds() == 1

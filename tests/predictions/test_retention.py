"""Input and result files are deleted PREDICTION_FILE_RETENTION_DAYS after a prediction
finished; the prediction, its inline results and its charges stay, and a download says
why the file is gone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from billing.models import LedgerEntry
from operations.tasks import sweep_jobs
from predictions import services, tasks
from predictions.models import Prediction
from tests.predictions.test_tasks import stored_csv

URL = "/api/v1/predictions/"


@pytest.fixture(autouse=True)
def _thirty_days(settings):
    settings.PREDICTION_FILE_RETENTION_DAYS = 30


def scored_csv(settings, user, model, make_csv, *, finished_days_ago: float) -> Prediction:
    upload = stored_csv(settings, user, make_csv(5))
    prediction = services.prediction_submit(user=user, model_id=model.pk, upload=upload).prediction
    tasks.run_prediction(prediction.pk)
    Prediction.objects.filter(pk=prediction.pk).update(
        finished_at=timezone.now() - timedelta(days=finished_days_ago)
    )
    prediction.refresh_from_db()
    assert prediction.status == "succeeded"
    return prediction


def files_of(settings, prediction: Prediction) -> list[Path]:
    media = Path(settings.MEDIA_ROOT)
    return [media / prediction.input_file.name, media / prediction.result_file]


def test_the_sweep_deletes_the_files_of_old_predictions_only(alice, classifier, make_csv, row, settings):
    old = scored_csv(settings, alice, classifier, make_csv, finished_days_ago=31)
    recent = scored_csv(settings, alice, classifier, make_csv, finished_days_ago=29)
    waiting = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    Prediction.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(days=90))
    assert all(path.is_file() for path in files_of(settings, old) + files_of(settings, recent))

    report = sweep_jobs()["predictions"]

    assert report["files_deleted"] == [old.pk]
    assert not any(path.exists() for path in files_of(settings, old))
    assert all(path.is_file() for path in files_of(settings, recent))
    old.refresh_from_db()
    assert old.files_deleted_at is not None and old.status == "succeeded"
    assert LedgerEntry.objects.filter(prediction=old).count() == 1  # the charge stays
    assert Prediction.objects.get(pk=waiting.pk).files_deleted_at is None
    assert services.prediction_files_expire() == []  # nothing left to do


def test_a_deleted_result_answers_410_saying_why(alice, alice_api, classifier, make_csv, settings):
    old = scored_csv(settings, alice, classifier, make_csv, finished_days_ago=45)
    services.prediction_files_expire()

    response = alice_api.get(f"{URL}{old.pk}/download/")

    assert response.status_code == 410
    detail = response.json()["detail"]
    assert "was deleted on" in detail and "kept for 30 days" in detail
    body = alice_api.get(f"{URL}{old.pk}/").json()
    assert body["download_url"] is None and body["files_deleted_at"]


def test_the_prediction_page_says_the_file_was_deleted(alice, alice_web, classifier, make_csv, settings):
    old = scored_csv(settings, alice, classifier, make_csv, finished_days_ago=45)
    services.prediction_files_expire()

    page = alice_web.get(f"/predictions/{old.pk}/").content.decode()

    assert "The result file was deleted on" in page and "kept for 30 days" in page
    assert "Download CSV" not in page


def test_zero_days_keeps_files_forever(alice, classifier, make_csv, settings):
    old = scored_csv(settings, alice, classifier, make_csv, finished_days_ago=3650)
    settings.PREDICTION_FILE_RETENTION_DAYS = 0

    assert services.prediction_files_expire() == []
    assert all(path.is_file() for path in files_of(settings, old))

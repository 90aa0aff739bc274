"""Every stored file in an S3 bucket (moto's server, a real HTTP endpoint): upload →
profile → train → JSON and CSV predictions → download → export → retention → delete,
with the bucket's objects checked at each step and nothing written under MEDIA_ROOT."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import LedgerEntry
from mlmodels.ml.errors import ArtifactError
from mlmodels.models import Dataset, TrainedModel
from predictions import tasks
from predictions.models import Prediction
from tests.mlmodels.conftest import classification_csv, upload_file
from tests.storage.conftest import media_files

pytestmark = pytest.mark.django_db

ROW = {"id": 1, "x": 0.5, "noise": 0.1, "color": "red", "constant": "same"}


@pytest.fixture(autouse=True)
def _empty_model_cache():
    tasks.cache_clear()
    yield
    tasks.cache_clear()


def _prefixed(keys: list[str], prefix: str) -> list[str]:
    return [key for key in keys if key.startswith(prefix)]


def upload_dataset(alice_api, alice) -> Dataset:
    from mlmodels import services

    answer = alice_api.post(
        "/api/v1/datasets/", {"file": upload_file(classification_csv()), "name": "churn"}, format="multipart"
    )
    assert answer.status_code == 201, answer.content
    return services.dataset_profile(dataset_id=answer.json()["id"])


def train(alice_api, dataset) -> TrainedModel:
    from mlmodels.tasks import train_model_task

    answer = alice_api.post(
        "/api/v1/models/",
        {"name": "churn", "dataset": dataset.pk, "target": "label", "algorithm": "logistic_regression"},
        format="json",
    )
    assert answer.status_code in (201, 202), answer.content
    train_model_task(answer.json()["id"])
    model = TrainedModel.objects.get(pk=answer.json()["id"])
    assert model.status == "ready", model.error
    return model


def csv_prediction(alice_api, model, rows: int = 6) -> Prediction:
    lines = ["id,x,noise,color,constant"] + [f"{n},{n / 10},0.1,red,same" for n in range(rows)]
    answer = alice_api.post(
        "/api/v1/predictions/",
        {"model": model.pk, "file": upload_file("\n".join(lines) + "\n", "rows.csv")},
        format="multipart",
    )
    assert answer.status_code == 202, answer.content
    return Prediction.objects.get(pk=answer.json()["id"])


def test_the_whole_journey_keeps_every_file_in_the_bucket(
    alice, alice_api, bucket, settings, django_capture_on_commit_callbacks
):
    # Upload and profile: the CSV is an object, read back by the profile job.
    dataset = upload_dataset(alice_api, alice)
    assert dataset.status == "ready", dataset.error
    assert bucket.objects() == [dataset.file.name]
    assert dataset.file.name.startswith(f"datasets/{alice.pk}/")

    # Training reads the dataset from the bucket and stores the artifact there (no
    # ".pending" left behind).
    model = train(alice_api, dataset)
    assert _prefixed(bucket.objects(), "models/") == [model.artifact]
    assert model.artifact.endswith(f"-{model.artifact_sha256[:12]}.joblib")

    # A JSON prediction: the model is fetched once (a miss), the result is an object.
    answer = alice_api.post("/api/v1/predictions/", {"model": model.pk, "inputs": [ROW]}, format="json")
    assert answer.status_code == 202, answer.content
    json_prediction = Prediction.objects.get(pk=answer.json()["id"])
    tasks.run_prediction(json_prediction.pk)
    json_prediction.refresh_from_db()
    assert json_prediction.status == "succeeded", json_prediction.error
    assert json_prediction.result_file in bucket.objects()
    assert (tasks.cache_hits, tasks.cache_misses) == (0, 1)

    # A CSV prediction: the upload is an object before the job runs; the model comes
    # from the worker's cache (no second fetch).
    prediction = csv_prediction(alice_api, model)
    assert prediction.input_file.name in bucket.objects()
    tasks.run_prediction(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == "succeeded", prediction.error
    assert prediction.result_file in bucket.objects()
    assert (tasks.cache_hits, tasks.cache_misses) == (1, 1)

    # The download streams the object through Django.
    download = alice_api.get(f"/api/v1/predictions/{prediction.pk}/download/")
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode()
    assert body.splitlines()[0].startswith("id,x,noise,color,constant,prediction")
    assert len(body.splitlines()) == 7
    stored = bucket.server.client().get_object(Bucket=bucket.name, Key=prediction.result_file)
    assert stored["Body"].read().decode() == body

    # The export loads the artifact from the bucket (hash verified).
    export = alice_api.get(f"/api/v1/models/{model.pk}/export/mlflow/")
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(export.streaming_content))) as archive:
        assert any(name.endswith("MLmodel") for name in archive.namelist())

    # Retention deletes both files of an old prediction, and the download says so.
    from predictions.services import prediction_files_expire

    Prediction.objects.filter(pk=prediction.pk).update(finished_at=timezone.now() - timedelta(days=60))
    assert prediction_files_expire() == [prediction.pk]
    keys = bucket.objects()
    assert prediction.input_file.name not in keys and prediction.result_file not in keys
    assert json_prediction.result_file in keys
    assert alice_api.get(f"/api/v1/predictions/{prediction.pk}/download/").status_code == 410

    # Deleting the model and the dataset deletes their objects.
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/models/{model.pk}/").status_code == 204
    assert _prefixed(bucket.objects(), "models/") == []
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"/api/v1/datasets/{dataset.pk}/").status_code == 204
    assert _prefixed(bucket.objects(), "datasets/") == []

    # Nothing was ever written under MEDIA_ROOT.
    assert media_files(settings) == []


def test_a_missing_result_object_is_410(alice, alice_api, bucket):
    model = train(alice_api, upload_dataset(alice_api, alice))
    answer = alice_api.post("/api/v1/predictions/", {"model": model.pk, "inputs": [ROW]}, format="json")
    tasks.run_prediction(answer.json()["id"])
    prediction = Prediction.objects.get(pk=answer.json()["id"])
    bucket.delete(prediction.result_file)
    response = alice_api.get(f"/api/v1/predictions/{prediction.pk}/download/")
    assert response.status_code == 410
    assert "no longer available" in response.json()["detail"]


def test_a_missing_input_object_fails_the_job_and_refunds_it_once(alice, alice_api, bucket):
    model = train(alice_api, upload_dataset(alice_api, alice))
    prediction = csv_prediction(alice_api, model)
    bucket.delete(prediction.input_file.name)
    tasks.run_prediction(prediction.pk)
    tasks.run_prediction(prediction.pk)  # delivered twice: nothing more happens
    prediction.refresh_from_db()
    assert prediction.status == "failed"
    assert "missing" in prediction.error and "refunded" in prediction.error
    kinds = list(LedgerEntry.objects.filter(prediction=prediction).values_list("kind", flat=True))
    assert sorted(kinds) == ["prediction_charge", "refund"]
    assert not any(key.endswith("-result.csv") for key in bucket.objects())


def test_a_csv_job_taken_away_while_its_result_goes_up_leaves_no_result_object(
    alice, alice_api, bucket, settings, monkeypatch
):
    settings.PREDICTION_CHUNK_ROWS = 100
    model = train(alice_api, upload_dataset(alice_api, alice))
    prediction = csv_prediction(alice_api, model, rows=250)
    progress = tasks.services.prediction_progress

    def swept_after_the_first_chunk(*, prediction_id, percent):
        progress(prediction_id=prediction_id, percent=percent)
        tasks.services.prediction_fail(prediction_id=prediction_id, error="stuck")  # the sweep
        return False

    monkeypatch.setattr(tasks.services, "prediction_progress", swept_after_the_first_chunk)
    assert "failed by the sweep" in tasks.run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == "failed" and not prediction.result_file
    assert not any(key.endswith("-result.csv") for key in bucket.objects())
    assert bucket.server.client().list_multipart_uploads(Bucket=bucket.name).get("Uploads", []) == []


def test_a_missing_artifact_fails_the_job_and_refunds_it(alice, alice_api, bucket):
    model = train(alice_api, upload_dataset(alice_api, alice))
    bucket.delete(model.artifact)
    answer = alice_api.post("/api/v1/predictions/", {"model": model.pk, "inputs": [ROW]}, format="json")
    # Raised again after the refund, so django-q records the failed task for operators.
    with pytest.raises(ArtifactError):
        tasks.run_prediction(answer.json()["id"])
    prediction = Prediction.objects.get(pk=answer.json()["id"])
    assert prediction.status == "failed"
    assert "missing" in prediction.error
    kinds = list(LedgerEntry.objects.filter(prediction=prediction).values_list("kind", flat=True))
    assert sorted(kinds) == ["prediction_charge", "refund"]


def test_a_missing_dataset_object_fails_training_with_a_refund(alice, alice_api, bucket):
    from mlmodels.tasks import train_model_task

    dataset = upload_dataset(alice_api, alice)
    answer = alice_api.post(
        "/api/v1/models/",
        {"name": "churn", "dataset": dataset.pk, "target": "label", "algorithm": "logistic_regression"},
        format="json",
    )
    bucket.delete(dataset.file.name)
    train_model_task(answer.json()["id"])
    model = TrainedModel.objects.get(pk=answer.json()["id"])
    assert model.status == "failed"
    assert "missing" in model.error
    kinds = list(LedgerEntry.objects.filter(model=model).values_list("kind", flat=True))
    assert sorted(kinds) == ["refund", "training_fee"]


def test_a_presigned_download_redirects_to_the_object_after_the_permission_check(
    alice, alice_api, bob_api, bucket, settings
):
    import urllib.request

    settings.STORAGE_PRESIGNED_DOWNLOADS = True
    model = train(alice_api, upload_dataset(alice_api, alice))
    prediction = csv_prediction(alice_api, model, rows=4)
    tasks.run_prediction(prediction.pk)
    assert bob_api.get(f"/api/v1/predictions/{prediction.pk}/download/").status_code == 404
    response = alice_api.get(f"/api/v1/predictions/{prediction.pk}/download/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(bucket.server.url) and "X-Amz-Signature" in location
    with urllib.request.urlopen(location, timeout=10) as answer:
        assert answer.read().decode().startswith("id,x,noise,color,constant,prediction")
        assert 'filename="prediction-' in answer.headers["Content-Disposition"]
    bucket.delete(Prediction.objects.get(pk=prediction.pk).result_file)
    assert alice_api.get(f"/api/v1/predictions/{prediction.pk}/download/").status_code == 410

"""The web (gunicorn, production mode) and two qclusters, each with a different, empty
MEDIA_ROOT and the bucket in its environment: the journey works end to end through
HTTP, so nothing relies on a shared disk. Then the storage goes down during a CSV
prediction and comes back (moto restarted on the same port)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from billing.models import LedgerEntry
from predictions.models import Prediction
from tests.conftest import wait_for
from tests.mlmodels.conftest import classification_csv
from tests.reliability.client import multipart
from tests.reliability.harness import METRICS_TOKEN, ProductionServer

pytestmark = pytest.mark.worker

SECRET_KEY = "storage-tests-secret-key-shared-by-web-and-workers-0123456789"
ROW = {"id": 1, "x": 0.5, "noise": 0.1, "color": "red", "constant": "same"}


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.fixture
def stack(alice, start_worker, s3_server, tmp_path):
    """gunicorn and two qclusters on one new bucket, each with its own empty MEDIA_ROOT."""
    from accounts.services import token_for_user
    from tests.conftest import database_url_for_subprocess

    if s3_server.process is None:
        s3_server.start()
    bucket = s3_server.new_bucket()
    media = {name: tmp_path / f"media-{name}" for name in ("web", "worker-1", "worker-2")}
    for folder in media.values():
        folder.mkdir()
    common = {**s3_server.environment(bucket), "SECRET_KEY": SECRET_KEY}
    workers = [
        start_worker(workers=1, extra_env={**common, "MEDIA_ROOT": str(media[name])})
        for name in ("worker-1", "worker-2")
    ]
    server = ProductionServer(
        env={
            **common,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url_for_subprocess(),
            "MEDIA_ROOT": str(media["web"]),
            "METRICS_TOKEN": METRICS_TOKEN,
            "THROTTLE_USER": "100000/min",
            "LOG_FORMAT": "plain",
            "PYTHONUNBUFFERED": "1",
        },
        log_path=tmp_path / "gunicorn.log",
        workers=1,
        threads=4,
    )
    yield {
        "http": server.http,
        "token": token_for_user(user=alice).key,
        "bucket": bucket,
        "media": media,
        "workers": workers,
        "server": server,
    }
    server.stop()


def wait_json(http, path: str, token: str, done, *, timeout: float = 90, what: str = "the job"):
    def poll():
        answer = http.get(path, token=token)
        return answer.data if answer.status == 200 and done(answer.data) else None

    return wait_for(poll, timeout=timeout, interval=0.3, what=what)


def train_through_http(http, token: str) -> tuple[int, int]:
    body, content_type = multipart(
        {"name": "churn"}, {"file": ("churn.csv", classification_csv().encode(), "text/csv")}
    )
    answer = http.post("/api/v1/datasets/", token=token, body=body, content_type=content_type)
    assert answer.status == 201, answer.describe()
    dataset_id = answer.data["id"]
    dataset = wait_json(
        http,
        f"/api/v1/datasets/{dataset_id}/",
        token,
        lambda data: data["status"] != "profiling",
        what="profile",
    )
    assert dataset["status"] == "ready", dataset
    answer = http.post(
        "/api/v1/models/",
        token=token,
        json_body={
            "name": "churn",
            "dataset": dataset_id,
            "target": "label",
            "algorithm": "logistic_regression",
        },
    )
    assert answer.status in (201, 202), answer.describe()
    model = wait_json(
        http,
        f"/api/v1/models/{answer.data['id']}/",
        token,
        lambda data: data["status"] in ("ready", "failed"),
        what="training",
    )
    assert model["status"] == "ready", model
    return dataset_id, model["id"]


def csv_body(rows: int) -> tuple[bytes, str]:
    lines = ["id,x,noise,color,constant"] + [f"{n},{(n % 20) / 10},0.1,red,same" for n in range(rows)]
    return multipart({}, {"file": ("rows.csv", ("\n".join(lines) + "\n").encode(), "text/csv")})


def test_web_and_two_workers_share_only_the_bucket(stack, s3_server):
    http, token, bucket = stack["http"], stack["token"], stack["bucket"]
    dataset_id, model_id = train_through_http(http, token)

    # JSON and CSV predictions, scored by whichever worker takes them.
    answer = http.post(
        "/api/v1/predictions/", token=token, json_body={"model": model_id, "inputs": [ROW] * 3}
    )
    assert answer.status == 202, answer.describe()
    json_prediction = wait_json(
        http, f"/api/v1/predictions/{answer.data['id']}/", token, lambda data: data["status"] == "succeeded"
    )
    body, content_type = _with_model(*csv_body(50), model_id)
    answer = http.post("/api/v1/predictions/", token=token, body=body, content_type=content_type)
    assert answer.status == 202, answer.describe()
    csv_prediction = wait_json(
        http, f"/api/v1/predictions/{answer.data['id']}/", token, lambda data: data["status"] == "succeeded"
    )

    for prediction in (json_prediction, csv_prediction):
        download = http.get(f"/api/v1/predictions/{prediction['id']}/download/", token=token)
        assert download.status == 200, download.describe()
        assert download.body.decode().startswith("id,x,noise,color,constant,prediction")
    assert (
        len(http.get(f"/api/v1/predictions/{csv_prediction['id']}/download/", token=token).body.splitlines())
        == 51
    )

    export = http.get(f"/api/v1/models/{model_id}/export/mlflow/", token=token)
    assert export.status == 200 and export.body[:2] == b"PK", export.describe()

    keys = s3_server.keys(bucket)
    assert any(key.startswith("datasets/") for key in keys)
    assert any(key.startswith("models/") and key.endswith(".joblib") for key in keys)
    assert sum(key.endswith("-result.csv") for key in keys) == 2
    assert sum(key.endswith("-input.csv") for key in keys) == 1

    health = http.get("/healthz")
    assert health.data["checks"]["storage"] == {
        **health.data["checks"]["storage"],
        "status": "ok",
        "kind": "s3",
    }

    # Deletes act on the bucket.
    assert http.request("DELETE", f"/api/v1/models/{model_id}/", token=token).status == 204
    assert http.request("DELETE", f"/api/v1/datasets/{dataset_id}/", token=token).status == 204
    keys = s3_server.keys(bucket)
    assert not any(key.startswith(("models/", "datasets/")) for key in keys)

    # No process wrote a file to its MEDIA_ROOT.
    for name, folder in stack["media"].items():
        assert files_under(folder) == [], name


def _with_model(body: bytes, content_type: str, model_id: int) -> tuple[bytes, str]:
    """The CSV body with the ``model`` field in front of the file (one multipart body)."""
    boundary = content_type.split("boundary=")[1]
    field = f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model_id}\r\n'.encode()
    return field + body, content_type


def test_storage_down_during_a_csv_prediction_then_back(stack, s3_server, tmp_path):
    """moto stopped while a CSV prediction is queued or scoring: the job fails and is
    refunded once (or, if it finished first, succeeded); new uploads get 503 naming the
    storage and charge nothing; moto back (a new, empty server on the same port, the
    bucket made again, as after a MinIO restore): work resumes."""
    http, token, bucket = stack["http"], stack["token"], stack["bucket"]
    _, model_id = train_through_http(http, token)

    body, content_type = _with_model(*csv_body(3000), model_id)
    answer = http.post("/api/v1/predictions/", token=token, body=body, content_type=content_type)
    assert answer.status == 202, answer.describe()
    prediction_id = answer.data["id"]
    stopped_at = time.monotonic()
    s3_server.stop()

    prediction = wait_json(
        http,
        f"/api/v1/predictions/{prediction_id}/",
        token,
        lambda data: data["status"] in ("succeeded", "failed"),
        timeout=120,
        what="the prediction to end while the storage is down",
    )
    ended_seconds = time.monotonic() - stopped_at
    kinds = sorted(LedgerEntry.objects.filter(prediction_id=prediction_id).values_list("kind", flat=True))
    if prediction["status"] == "failed":
        assert kinds == ["prediction_charge", "refund"], kinds
        assert "storage" in prediction["error"].lower() or "missing" in prediction["error"].lower()
    else:
        assert kinds == ["prediction_charge"], kinds

    started = time.monotonic()
    body, content_type = _with_model(*csv_body(5), model_id)
    refused = http.post("/api/v1/predictions/", token=token, body=body, content_type=content_type)
    refused_seconds = time.monotonic() - started
    assert refused.status == 503, refused.describe()
    assert "storage" in refused.detail.lower()
    assert Prediction.objects.count() == 1
    health = http.get("/healthz")
    assert health.status == 503 and "storage" in health.data["failing"]

    s3_server.start()
    s3_server.client().create_bucket(Bucket=bucket)
    # The artifact went with moto's memory: train again, then predict.
    _, model_id = train_through_http(http, token)
    body, content_type = _with_model(*csv_body(5), model_id)
    answer = http.post("/api/v1/predictions/", token=token, body=body, content_type=content_type)
    assert answer.status == 202, answer.describe()
    resumed = wait_json(
        http,
        f"/api/v1/predictions/{answer.data['id']}/",
        token,
        lambda data: data["status"] in ("succeeded", "failed"),
    )
    assert resumed["status"] == "succeeded", resumed
    print(
        f"FIGURES: prediction {prediction['status']} {ended_seconds:.1f}s after the storage stopped; "
        f"upload refused with 503 in {refused_seconds:.1f}s"
    )

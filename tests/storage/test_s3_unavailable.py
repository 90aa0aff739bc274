"""The storage unreachable: uploads answer 503 naming the storage and charge nothing,
/healthz names it, /metrics counts the errors; the storage back, work resumes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.counters import STORAGE_ERRORS, counter_values
from devservers.ports import free_port
from mlmodels.models import Dataset
from predictions.models import Prediction
from tests.mlmodels.conftest import classification_csv, upload_file
from tests.storage.conftest import media_files, s3_storages
from tests.storage.test_s3_journey import train, upload_dataset

pytestmark = pytest.mark.django_db


def balance_of(user) -> Decimal:
    user.coin_account.refresh_from_db()
    return user.coin_account.balance


@pytest.fixture
def storage_down(s3_server, bucket, settings, monkeypatch):
    """Switch the default storage to the same bucket name at a port nobody listens on."""

    def down() -> None:
        environment = s3_server.environment(bucket.name)
        environment["STORAGE_URL"] = environment["STORAGE_URL"].replace(
            f":{s3_server.port}", f":{free_port()}"
        )
        settings.STORAGES = s3_storages(settings, environment, monkeypatch)

    return down


def test_a_dataset_upload_while_storage_is_down_is_503_naming_it(alice, alice_api, storage_down, settings):
    storage_down()
    answer = alice_api.post(
        "/api/v1/datasets/", {"file": upload_file(classification_csv())}, format="multipart"
    )
    assert answer.status_code == 503
    assert answer["Retry-After"] == "5"
    assert "storage" in answer.json()["detail"].lower()
    assert "storage" in answer.json()["errors"]
    assert Dataset.objects.count() == 0
    assert media_files(settings) == []
    assert counter_values().get(STORAGE_ERRORS, 0) >= 1


def test_a_csv_prediction_while_storage_is_down_is_503_and_charges_nothing(
    alice, alice_api, bucket, storage_down
):
    model = train(alice_api, upload_dataset(alice_api, alice))
    before = balance_of(alice)
    storage_down()
    answer = alice_api.post(
        "/api/v1/predictions/",
        {"model": model.pk, "file": upload_file("id,x,noise,color,constant\n1,0.5,0.1,red,same\n", "r.csv")},
        format="multipart",
    )
    assert answer.status_code == 503, answer.content
    assert "storage" in answer.json()["detail"].lower()
    assert balance_of(alice) == before
    assert Prediction.objects.count() == 0


def test_healthz_names_the_storage_when_it_is_down(client, bucket, storage_down):
    answer = client.get("/healthz")
    assert answer.json()["checks"]["storage"]["status"] == "ok"
    assert answer.json()["checks"]["storage"]["kind"] == "s3"
    storage_down()
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert "storage" in answer.json()["failing"]
    assert "storage unavailable" in answer.json()["checks"]["storage"]["error"]


def test_metrics_count_storage_errors(alice, alice_api, storage_down, settings):
    from operations.metrics import service_families

    settings.METRICS_CACHE_SECONDS = 0
    storage_down()
    alice_api.post("/api/v1/datasets/", {"file": upload_file(classification_csv())}, format="multipart")
    families = {family.name: family for family in service_families(private_names=False)}
    assert families["mlservice_storage_errors"].samples[0].value >= 1

"""Round trips through a real ``manage.py qcluster`` on the test database: upload →
profile task → training task, and a training that fails and is refunded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from billing.audit import billing_audit
from mlmodels.ml.artifacts import file_sha256
from mlmodels.models import Dataset, TrainedModel
from tests.conftest import wait_for
from tests.mlmodels.conftest import FEE, balance_of, classification_csv, ledger_kinds, upload_file

pytestmark = pytest.mark.worker


def upload_and_profile(client, content: str, filename: str) -> int:
    response = client.post("/api/v1/datasets/", {"file": upload_file(content, filename)}, format="multipart")
    assert response.status_code == 201, response.json()
    dataset_id = response.json()["id"]
    wait_for(
        lambda: Dataset.objects.filter(pk=dataset_id).exclude(status="profiling").exists(),
        timeout=60,
        what="the profile task",
    )
    assert Dataset.objects.get(pk=dataset_id).status == "ready"
    return dataset_id


def test_upload_profile_and_train_through_a_real_worker_and_refund_a_failure(
    alice_api, alice, worker, settings
):
    dataset_id = upload_and_profile(alice_api, classification_csv(), "customers.csv")
    profile = alice_api.get(f"/api/v1/datasets/{dataset_id}/profile/")
    assert profile.status_code == 200 and profile.json()["rows"] == 60

    body = {"name": "churn", "dataset": dataset_id, "target": "label", "algorithm": "logistic_regression"}
    response = alice_api.post("/api/v1/models/", body, format="json", HTTP_PREFER="wait=60")

    assert response.status_code == 201, (response.json(), worker.log()[-3000:])
    answer = response.json()
    assert answer["status"] == "ready" and answer["progress"] == 100
    assert answer["metrics"]["accuracy"] > 0.5
    model = TrainedModel.objects.get(pk=answer["id"])
    artifact = Path(settings.MEDIA_ROOT) / model.artifact
    assert file_sha256(artifact) == model.artifact_sha256
    assert model.is_active and model.task_id
    assert balance_of(alice) == Decimal("500.00") - FEE

    # A training the engine refuses once it sees the whole table (every feature is an
    # identifier or a constant): accepted and charged, then failed and refunded once.
    useless = "id,constant,label\n" + "".join(f"{n},same,{'a' if n % 2 else 'b'}\n" for n in range(20))
    useless_id = upload_and_profile(alice_api, useless, "useless.csv")
    response = alice_api.post("/api/v1/models/", {**body, "dataset": useless_id}, format="json")
    assert response.status_code == 202
    failed_id = response.json()["id"]
    wait_for(
        lambda: TrainedModel.objects.filter(pk=failed_id, status="failed").exists(),
        timeout=60,
        what="the training to fail",
    )

    failed = alice_api.get(f"/api/v1/models/{failed_id}/").json()
    assert failed["error"].startswith("No usable feature columns are left")
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "training_fee", "refund"]
    assert balance_of(alice) == Decimal("500.00") - FEE
    assert billing_audit() == []
    assert "Traceback" not in worker.log()

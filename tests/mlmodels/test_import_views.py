"""The import page: the same service as POST models/import/, with its errors on the form."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.audit import billing_audit
from mlmodels.models import ModelImportSettings, TrainedModel
from mlmodels.tasks import train_model_task
from tests.mlmodels.conftest import balance_of, media_files
from tests.mlmodels.test_imports import SCHEMA, skops_pipeline_bytes

URL = "/models/import/"


@pytest.fixture(autouse=True)
def import_fee(db):
    ModelImportSettings.objects.create(import_fee=Decimal("3.00"))


def test_the_page_is_linked_from_the_models_list_and_the_dashboard(alice_web):
    assert URL in alice_web.get("/models/").content.decode()
    assert URL in alice_web.get("/dashboard/").content.decode()
    page = alice_web.get(URL).content.decode()
    assert 'name="file"' in page and 'name="schema"' in page and 'name="sample"' in page
    assert "3.00" in page  # the fee, before paying


def test_a_skops_file_with_a_schema_is_imported_and_its_page_shows_it(alice_web, alice):
    data, _ = skops_pipeline_bytes()

    response = alice_web.post(
        URL,
        {"file": SimpleUploadedFile("model.skops", data), "name": "churn", "schema": json.dumps(SCHEMA)},
    )

    model = TrainedModel.objects.get()
    assert response.status_code == 302 and response.url == f"/models/{model.pk}/"
    assert (model.source, model.status, balance_of(alice)) == ("imported", "queued", Decimal("497.00"))
    train_model_task(model.pk)
    page = alice_web.get(f"/models/{model.pk}/").content.decode()
    assert "Imported scikit-learn model" in page
    assert TrainedModel.objects.get().status == "ready"


def test_a_sample_csv_with_target_and_task_gives_the_schema(alice_web):
    data, _ = skops_pipeline_bytes()
    sample = SimpleUploadedFile("sample.csv", b"x,color\n0.5,red\n-1,blue\n")

    response = alice_web.post(
        URL,
        {
            "file": SimpleUploadedFile("model.skops", data),
            "name": "churn",
            "sample": sample,
            "target": "label",
            "task": "classification",
        },
    )

    assert response.status_code == 302
    assert TrainedModel.objects.get().dataset_name == "sample.csv"


def test_a_pickle_is_refused_on_the_form_and_nothing_is_kept(alice_web, alice, settings):
    response = alice_web.post(
        URL,
        {
            "file": SimpleUploadedFile("model.pkl", pickle.dumps([1])),
            "name": "churn",
            "schema": json.dumps(SCHEMA),
        },
    )

    assert response.status_code == 200
    assert "runs whatever code it contains" in response.content.decode()
    assert TrainedModel.objects.count() == 0 and balance_of(alice) == Decimal("500.00")
    assert media_files(settings) == [] and billing_audit() == []


def test_a_form_without_schema_or_sample_says_what_to_send(alice_web):
    data, _ = skops_pipeline_bytes()

    response = alice_web.post(URL, {"file": SimpleUploadedFile("model.skops", data), "name": "churn"})

    assert response.status_code == 200
    assert "Send the feature schema (JSON) or a sample CSV" in response.content.decode()
    assert TrainedModel.objects.count() == 0

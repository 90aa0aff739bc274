"""Bring your own model (POST models/import/ and its page): a skops pipeline and a
CatBoost .cbm model are imported, checked by a worker on their sample rows, predict
and are published like trained models; pickles, joblib files, skops files with types
not on the allow-list, and schemas that do not fit are refused with nothing stored or
charged (or, found by the worker, refunded)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from decimal import Decimal

import catboost
import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from billing.audit import billing_audit
from mlmodels.models import ModelImportSettings, TrainedModel
from mlmodels.tasks import train_model_task
from predictions.models import Prediction
from predictions.tasks import run_prediction
from tests.mlmodels.conftest import balance_of, ledger_kinds, media_files

URL = "/api/v1/models/import/"
FEE = Decimal("3.00")
START = Decimal("500.00")


class Custom:  # a class of the sender's own: never on the allow-list
    def __init__(self):
        self.value = 1


def training_frame(rows: int = 40) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.RandomState(0)
    x = rng.normal(size=rows)
    color = np.array(["red", "green", "blue"])[np.arange(rows) % 3]
    label = np.where(x + (color == "red") > 0.3, "churned", "stayed")
    return pd.DataFrame({"x": x, "color": color}), label


SCHEMA = {
    "target": "label",
    "task": "classification",
    "features": [
        {"name": "x", "kind": "numeric"},
        {"name": "color", "kind": "categorical", "categories": ["blue", "green", "red"]},
    ],
    "sample_rows": [{"x": 0.5, "color": "red"}, {"x": -1, "color": "blue"}, {"x": "2", "color": None}],
}
ROWS = [{"x": 0.5, "color": "red"}, {"x": -1.0, "color": "blue"}, {"x": 2.0, "color": "green"}]


def skops_pipeline_bytes() -> tuple[bytes, Pipeline]:
    frame, label = training_frame()
    pipeline = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("n", "passthrough", ["x"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["color"])]
                ),
            ),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, label)
    return skops.io.dumps(pipeline), pipeline


def catboost_bytes(tmp_path) -> tuple[bytes, catboost.CatBoostClassifier]:
    frame, label = training_frame()
    model = catboost.CatBoostClassifier(
        iterations=10, verbose=False, cat_features=["color"], random_seed=0, allow_writing_files=False
    )
    model.fit(frame, label)
    path = tmp_path / "model.cbm"
    model.save_model(str(path))
    return path.read_bytes(), model


def model_upload(data: bytes, name: str = "model.skops") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def post_import(
    client, data: bytes, *, filename="model.skops", schema=SCHEMA, name="churn", key=None, **extra
):
    body = {"file": model_upload(data, filename), "name": name, **extra}
    if schema is not None:
        body["schema"] = json.dumps(schema)
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(URL, body, format="multipart", **headers)


@pytest.fixture(autouse=True)
def import_fee(db):
    ModelImportSettings.objects.create(import_fee=FEE)


def assert_nothing_written(user, settings):
    assert TrainedModel.objects.count() == 0
    assert balance_of(user) == START
    assert ledger_kinds(user) == ["signup_bonus"]
    assert media_files(settings) == []
    assert billing_audit() == []


def predict(client, model_id: int, rows) -> list[dict]:
    response = client.post("/api/v1/predictions/", {"model": model_id, "inputs": rows}, format="json")
    assert response.status_code == 202, response.json()
    run_prediction(response.json()["id"])
    prediction = Prediction.objects.get(pk=response.json()["id"])
    assert prediction.status == "succeeded", prediction.error
    return prediction.results


def test_a_skops_pipeline_is_imported_checked_predicts_and_is_published(
    alice_api, staff_api, alice, settings
):
    data, pipeline = skops_pipeline_bytes()

    response = post_import(alice_api, data)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["source"], body["version"]) == ("queued", "imported", 1)
    assert (body["algorithm"], body["training_fee"]) == ("imported-sklearn", "3.00")
    assert balance_of(alice) == START - FEE
    train_model_task(body["id"])
    model = TrainedModel.objects.get(pk=body["id"])
    assert model.status == "ready", model.error
    assert model.is_active and model.classes == ["churned", "stayed"] and model.import_upload == ""
    assert [path.name for path in media_files(settings)] == [model.artifact.rsplit("/", 1)[1]]

    results = predict(alice_api, model.pk, ROWS)
    expected = pipeline.predict_proba(pd.DataFrame(ROWS))
    for result, probabilities in zip(results, expected, strict=True):
        assert result["probabilities"]["churned"] == pytest.approx(probabilities[0], abs=1e-12)
        assert result["prediction"] == pipeline.classes_[probabilities.argmax()]

    published = staff_api.patch(f"/api/v1/models/{model.pk}/", {"is_public": True}, format="json")
    assert published.status_code == 200 and published.json()["is_public"] is True
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "prediction_charge"]
    assert billing_audit() == []


def test_a_catboost_model_with_a_categorical_feature_is_imported_in_its_column_order(
    alice_api, alice, tmp_path
):
    data, cat_model = catboost_bytes(tmp_path)
    # The schema lists the columns in another order than the model: matched by name.
    schema = {**SCHEMA, "features": list(reversed(SCHEMA["features"]))}

    response = post_import(alice_api, data, filename="model.cbm", schema=schema)

    assert response.status_code == 202, response.json()
    train_model_task(response.json()["id"])
    model = TrainedModel.objects.get(pk=response.json()["id"])
    assert model.status == "ready", model.error
    assert model.algorithm.key == "imported-catboost"
    results = predict(alice_api, model.pk, [*ROWS, {"x": 1.0, "color": None}])
    expected = cat_model.predict_proba(
        pd.DataFrame([*ROWS, {"x": 1.0, "color": "__missing__"}])[["x", "color"]]
    )
    got = [result["probabilities"]["churned"] for result in results]
    assert got == pytest.approx(expected[:, 0].tolist(), abs=1e-12)
    assert billing_audit() == []


def test_a_second_import_under_a_name_is_its_next_version(alice_api):
    data, _ = skops_pipeline_bytes()
    first = post_import(alice_api, data).json()
    second = post_import(alice_api, data).json()
    assert (first["version"], second["version"]) == (1, 2)


def test_the_schema_can_be_inferred_from_a_sample_csv(alice_api):
    data, _ = skops_pipeline_bytes()
    sample = SimpleUploadedFile("sample.csv", b"x,color,label\n0.5,red,churned\n-1,blue,stayed\n")

    response = post_import(alice_api, data, schema=None, sample=sample, target="label", task="classification")

    assert response.status_code == 202, response.json()
    model = TrainedModel.objects.get(pk=response.json()["id"])
    assert [(feature["name"], feature["kind"]) for feature in model.feature_schema["features"]] == [
        ("x", "numeric"),
        ("color", "categorical"),
    ]
    assert model.import_sample == [{"x": "0.5", "color": "red"}, {"x": "-1", "color": "blue"}]
    train_model_task(model.pk)
    model.refresh_from_db()
    assert model.status == "ready", model.error


@pytest.mark.parametrize(
    "data, filename",
    [
        (pickle.dumps({"a": 1}), "model.skops"),  # a pickle under a skops name
        (pickle.dumps({"a": 1}, protocol=2), "model.cbm"),
        (None, "model.joblib"),  # joblib, compressed: zlib bytes
        (None, "model.bin"),  # joblib, uncompressed: a pickle
        (pickle.dumps({"a": 1}, protocol=0), "model.pkl"),  # protocol 0: known by its name
    ],
)
def test_a_pickle_or_joblib_file_is_refused_with_why_and_nothing_is_kept(
    alice_api, alice, settings, data, filename
):
    if data is None:
        buffer = io.BytesIO()
        joblib.dump(LogisticRegression(), buffer, compress=3 if filename.endswith(".joblib") else 0)
        data = buffer.getvalue()

    response = post_import(alice_api, data, filename=filename)

    assert response.status_code == 400
    message = response.json()["errors"]["file"][0]
    assert (
        "pickle" in message and "runs whatever code" in message and "skops" in message and ".cbm" in message
    )
    assert_nothing_written(alice, settings)


def test_a_skops_file_with_a_function_not_allowed_is_refused_by_name(alice_api, alice, settings):
    frame, label = training_frame()
    pipeline = Pipeline([("f", FunctionTransformer(func=eval)), ("m", LinearRegression())])
    data = skops.io.dumps(pipeline)

    response = post_import(alice_api, data)

    assert response.status_code == 400
    assert "builtins.eval" in response.json()["errors"]["file"][0]
    assert_nothing_written(alice, settings)


def test_a_skops_file_with_a_class_of_the_senders_own_is_refused_by_name(alice_api, alice, settings):
    data = skops.io.dumps({"model": Custom()})

    response = post_import(alice_api, data)

    assert response.status_code == 400
    assert "tests.mlmodels.test_imports.Custom" in response.json()["errors"]["file"][0]
    assert_nothing_written(alice, settings)


def test_a_zip_bomb_and_a_zip_that_is_not_skops_are_refused(alice_api, alice, settings):
    settings.MODEL_IMPORT_MAX_BYTES = 64 * 1024
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", "{}")
        archive.writestr("big.npy", b"\0" * (1024 * 1024))  # 1 MB unpacked from ~1 kB
    bomb = post_import(alice_api, buffer.getvalue())
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("readme.txt", "hello")
    not_skops = post_import(alice_api, plain.getvalue())

    assert bomb.status_code == 400 and "unpack" in bomb.json()["errors"]["file"][0]
    assert not_skops.status_code == 400 and "schema.json" in not_skops.json()["errors"]["file"][0]
    assert_nothing_written(alice, settings)


def test_a_file_over_the_limit_is_refused_with_413(alice_api, alice, settings):
    settings.MODEL_IMPORT_MAX_BYTES = 2048
    data, _ = skops_pipeline_bytes()

    response = post_import(alice_api, data + b"\0" * 4096)

    assert response.status_code == 413
    assert_nothing_written(alice, settings)


@pytest.mark.parametrize(
    "schema, field, words",
    [
        ({**SCHEMA, "features": []}, "schema", "non-empty list"),
        ({**SCHEMA, "features": [{"name": "x", "kind": "number"}]}, "schema", "'kind' must be one of"),
        ({**SCHEMA, "task": "clustering"}, "schema", "'task'"),
        ({key: value for key, value in SCHEMA.items() if key != "sample_rows"}, "sample", "sample rows"),
        ({**SCHEMA, "sample_rows": [{"x": "many", "color": "red"}]}, "sample", "many"),
    ],
)
def test_a_bad_schema_is_refused_before_any_charge(alice_api, alice, settings, schema, field, words):
    data, _ = skops_pipeline_bytes()

    response = post_import(alice_api, data, schema=schema)

    assert response.status_code == 400
    assert words in " ".join(response.json()["errors"][field])
    assert_nothing_written(alice, settings)


def test_a_schema_with_the_wrong_number_of_features_fails_the_check_and_is_refunded(
    alice_api, alice, settings, tmp_path
):
    data, _ = catboost_bytes(tmp_path)
    schema = {
        **SCHEMA,
        "features": [*SCHEMA["features"], {"name": "extra", "kind": "numeric"}],
        "sample_rows": [{"x": 1, "color": "red", "extra": 2}],
    }
    response = post_import(alice_api, data, filename="model.cbm", schema=schema)
    assert response.status_code == 202
    assert balance_of(alice) == START - FEE

    train_model_task(response.json()["id"])

    model = TrainedModel.objects.get(pk=response.json()["id"])
    assert model.status == "failed"
    assert "The model takes 2 features; the schema lists 3" in model.error
    assert balance_of(alice) == START
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "refund"]
    assert media_files(settings) == []  # the upload is gone, no artifact was written
    assert billing_audit() == []


def test_a_skops_schema_naming_other_columns_fails_the_check_and_is_refunded(alice_api, alice):
    data, _ = skops_pipeline_bytes()
    schema = {
        **SCHEMA,
        "features": [{"name": "x", "kind": "numeric"}, {"name": "colour", "kind": "categorical"}],
        "sample_rows": [{"x": 1, "colour": "red"}],
    }
    response = post_import(alice_api, data, schema=schema)
    train_model_task(response.json()["id"])

    model = TrainedModel.objects.get(pk=response.json()["id"])
    assert model.status == "failed" and "'color'" in model.error and "'colour'" in model.error
    assert balance_of(alice) == START
    assert billing_audit() == []


@pytest.mark.parametrize(
    ("raised", "words"),
    [
        (MemoryError(), "The import needed more memory than one job may use"),
        (RuntimeError("disk on fire"), "The import failed: RuntimeError: disk on fire"),
    ],
    ids=["out of memory", "internal error"],
)
def test_an_import_whose_check_breaks_fails_readably_and_leaves_nothing(
    alice_api, alice, settings, monkeypatch, raised, words
):
    from mlmodels.services import import_job

    def breaks(*args, **kwargs):
        raise raised

    monkeypatch.setattr(import_job.imported, "import_model", breaks)
    data, _ = skops_pipeline_bytes()
    model_id = post_import(alice_api, data).json()["id"]

    train_model_task(model_id)

    model = TrainedModel.objects.get(pk=model_id)
    assert model.status == "failed" and model.error.startswith(words) and "Traceback" not in model.error
    assert balance_of(alice) == START
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "refund"]
    assert media_files(settings) == []  # the upload is gone
    assert billing_audit() == []


def test_the_fee_is_charged_once_when_the_job_runs_twice(alice_api, alice):
    data, _ = skops_pipeline_bytes()
    model_id = post_import(alice_api, data).json()["id"]

    train_model_task(model_id)
    train_model_task(model_id)

    assert TrainedModel.objects.get(pk=model_id).status == "ready"
    assert balance_of(alice) == START - FEE
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee"]
    assert billing_audit() == []


def test_an_import_short_of_coins_is_402_and_nothing_is_kept(alice_api, alice, settings):
    ModelImportSettings.objects.update(import_fee=Decimal("600.00"))
    data, _ = skops_pipeline_bytes()

    response = post_import(alice_api, data)

    assert response.status_code == 402
    assert_nothing_written(alice, settings)


def test_another_users_import_is_invisible(alice_api, bob_api):
    data, _ = skops_pipeline_bytes()
    model_id = post_import(alice_api, data).json()["id"]

    assert bob_api.get(f"/api/v1/models/{model_id}/").status_code == 404
    assert bob_api.delete(f"/api/v1/models/{model_id}/").status_code == 404


def test_an_anonymous_import_is_refused(api, settings):
    data, _ = skops_pipeline_bytes()
    assert post_import(api, data).status_code == 401
    assert media_files(settings) == []


def test_the_import_fee_follows_the_admin_setting(alice_api, alice):
    ModelImportSettings.objects.update(import_fee=Decimal("0.50"))
    data, _ = skops_pipeline_bytes()

    response = post_import(alice_api, data)

    assert response.json()["training_fee"] == "0.50"
    assert balance_of(alice) == START - Decimal("0.50")


def test_a_file_with_catboosts_magic_but_no_model_fails_the_check_and_is_refunded(alice_api, alice, settings):
    response = post_import(alice_api, b"CBM1" + b"\x00garbage" * 100, filename="model.cbm")
    assert response.status_code == 202

    train_model_task(response.json()["id"])

    model = TrainedModel.objects.get(pk=response.json()["id"])
    assert model.status == "failed" and "The CatBoost model cannot be loaded" in model.error
    assert balance_of(alice) == START and media_files(settings) == []
    assert billing_audit() == []


def test_a_classifier_declared_as_regression_fails_the_check(alice_api, alice):
    data, _ = skops_pipeline_bytes()
    schema = {**SCHEMA, "task": "regression"}

    response = post_import(alice_api, data, schema=schema)
    train_model_task(response.json()["id"])

    model = TrainedModel.objects.get(pk=response.json()["id"])
    assert model.status == "failed" and "is a classifier" in model.error
    assert balance_of(alice) == START and billing_audit() == []


def test_a_retry_with_the_same_idempotency_key_gets_the_first_model_and_pays_once(alice_api, alice, settings):
    data, _ = skops_pipeline_bytes()

    first = post_import(alice_api, data, key="import-1")
    again = post_import(alice_api, data, key="import-1")
    other = post_import(alice_api, data, name="other", key="import-1")

    assert first.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert TrainedModel.objects.count() == 1 and balance_of(alice) == START - FEE
    assert len(media_files(settings)) == 1  # the first upload only, waiting for its check

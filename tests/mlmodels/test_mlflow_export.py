"""Export to MLflow, proven with MLflow itself: a model trained here, exported through the
API, unzipped, served by ``mlflow models serve`` and loaded by ``mlflow.pyfunc``, gives
the service's own predictions and probabilities on 50 rows (to 1e-9)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from billing.audit import billing_audit
from mlmodels.models import TrainedModel
from mlmodels.tasks import train_model_task
from predictions import services as prediction_services
from predictions.tasks import run_prediction
from tests.mlmodels.conftest import balance_of, regression_csv
from tests.mlmodels.mlflow_servers import http, mlflow_process, require_mlflow, run_mlflow_python


def mixed_csv(rows: int = 90, seed: int = 5) -> str:
    """Numbers (one missing), a colour (one missing), a yes/no boolean, and a label."""
    rng = np.random.RandomState(seed)
    lines = ["x,noise,color,member,label"]
    for number in range(rows):
        x = rng.normal()
        color = ["red", "green", "blue"][rng.randint(0, 3)]
        member = "yes" if rng.rand() > 0.5 else "no"
        label = "churned" if x + (color == "red") * 0.8 + (member == "yes") * 0.6 > 0.5 else "stayed"
        shown_x = "" if number == 7 else f"{x:.4f}"
        shown_color = "" if number == 11 else color
        lines.append(f"{shown_x},{rng.normal():.4f},{shown_color},{member},{label}")
    return "\n".join(lines) + "\n"


def _value(text: str, kind: str):
    if text == "":
        return None
    return float(text) if kind == "numeric" else text


def rows_for(model: TrainedModel, content: str, count: int = 50) -> tuple[list[str], list[list]]:
    """The first ``count`` rows of the dataset as MLflow clients send them: numbers as
    numbers, text as text, missing values as null; only the model's columns."""
    lines = content.strip().splitlines()
    header = lines[0].split(",")
    features = [(feature["name"], feature["kind"]) for feature in model.feature_schema["features"]]
    rows = []
    for line in lines[1 : count + 1]:
        cells = dict(zip(header, line.split(","), strict=True))
        rows.append([_value(cells[name], kind) for name, kind in features])
    return [name for name, _ in features], rows


def service_results(user, model: TrainedModel, columns: list[str], rows: list[list]) -> list[dict]:
    """The service's answer for the rows: a prediction submitted and scored by its task."""
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    prediction = prediction_services.prediction_submit(
        user=user, model_id=model.pk, inputs=records
    ).prediction
    run_prediction(prediction.pk)
    prediction.refresh_from_db()
    assert prediction.status == "succeeded", prediction.error
    return prediction.results


def export(api, model: TrainedModel, folder: Path) -> Path:
    response = api.get(f"/api/v1/models/{model.pk}/export/mlflow/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"] and ".zip" in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    target = folder / f"model-{model.pk}"
    zipfile.ZipFile(io.BytesIO(content)).extractall(target)
    return target


def trained(submit, user, dataset, **fields) -> TrainedModel:
    model = submit(user, dataset=dataset.pk, **fields)
    train_model_task(model.pk)
    model.refresh_from_db()
    assert model.status == "ready", model.error
    return model


PYFUNC_SCRIPT = """
import json, sys
import mlflow.pyfunc, pandas as pd
directory, columns, rows, flavour = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
frame = pd.DataFrame(rows, columns=columns)
model = mlflow.pyfunc.load_model(directory)
answer = {"predict": model.predict(frame).tolist()}
if flavour == "classification":
    answer["predict_proba"] = model.predict(frame, params={"predict_method": "predict_proba"}).tolist()
import mlflow.sklearn
answer["sklearn"] = type(mlflow.sklearn.load_model(directory)).__name__
try:
    import mlflow.catboost
    answer["catboost"] = type(mlflow.catboost.load_model(directory)).__name__
except Exception as error:
    answer["catboost"] = None
print(json.dumps(answer))
"""


@pytest.mark.parametrize(
    ("algorithm", "task"),
    [
        ("logistic_regression", "classification"),
        ("catboost_classifier", "classification"),
        ("ridge", "regression"),
    ],
)
def test_an_exported_model_served_by_mlflow_predicts_as_the_service_does(
    algorithm, task, submit, make_dataset, alice, alice_api, tmp_path
):
    require_mlflow()
    content = mixed_csv() if task == "classification" else regression_csv(rows=90)
    dataset = make_dataset(alice, content, "mixed")
    target = "label" if task == "classification" else "price"
    model = trained(submit, alice, dataset, name="churn", target=target, algorithm=algorithm)
    if task == "classification":
        kinds = {feature["kind"] for feature in model.feature_schema["features"]}
        assert kinds == {"numeric", "categorical", "boolean"}
    columns, rows = rows_for(model, content)
    expected = service_results(alice, model, columns, rows)

    directory = export(alice_api, model, tmp_path)
    described = yaml.safe_load((directory / "MLmodel").read_text())
    assert {"python_function", "sklearn"} <= set(described["flavors"])
    assert ("catboost" in described["flavors"]) == (algorithm == "catboost_classifier")
    inputs = json.loads(described["signature"]["inputs"])
    assert [spec["name"] for spec in inputs] == columns
    assert "scikit-learn==" in (directory / "requirements.txt").read_text()

    with mlflow_process(
        ["models", "serve", "-m", str(directory), "--env-manager", "local"],
        ready_path="/ping",
        log_path=tmp_path / "serve.log",
        cwd=tmp_path,
    ) as server:
        split = {"columns": columns, "data": rows}
        status, served = http("POST", f"{server.url}/invocations", {"dataframe_split": split})
        assert status == 200, served
        if task == "classification":
            assert served["predictions"] == [result["prediction"] for result in expected]
            status, proba = http(
                "POST",
                f"{server.url}/invocations",
                {"dataframe_split": split, "params": {"predict_method": "predict_proba"}},
            )
            assert status == 200, proba
            classes = [str(value) for value in model.feature_schema["classes"]]
            wanted = [[result["probabilities"][name] for name in classes] for result in expected]
            assert np.abs(np.array(proba["predictions"]) - np.array(wanted)).max() <= 1e-9
        else:
            wanted = [result["prediction"] for result in expected]
            assert np.abs(np.array(served["predictions"]) - np.array(wanted)).max() <= 1e-9

    loaded = json.loads(
        run_mlflow_python(
            PYFUNC_SCRIPT, str(directory), json.dumps(columns), json.dumps(rows), task, cwd=tmp_path
        )
        .strip()
        .splitlines()[-1]
    )
    assert loaded["sklearn"] == "Pipeline"
    assert loaded["catboost"] == ("CatBoostClassifier" if algorithm == "catboost_classifier" else None)
    if task == "classification":
        assert loaded["predict"] == [result["prediction"] for result in expected]
        assert np.abs(np.array(loaded["predict_proba"]) - np.array(wanted)).max() <= 1e-9
    else:
        assert np.abs(np.array(loaded["predict"]) - np.array(wanted)).max() <= 1e-9
    assert billing_audit() == []


def test_export_is_for_the_owner_staff_or_a_public_model(trained_model, alice_api, bob_api, staff_api, alice):
    before = balance_of(alice)
    url = f"/api/v1/models/{trained_model.pk}/export/mlflow/"
    assert bob_api.get(url).status_code == 404
    assert staff_api.get(url).status_code == 200
    assert alice_api.get(url).status_code == 200
    TrainedModel.objects.filter(pk=trained_model.pk).update(is_public=True)
    response = bob_api.get(url)
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert {
        "MLmodel",
        "model.pkl",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
    } <= set(names)
    assert "code/mlservice_model/schema.py" in names
    assert balance_of(alice) == before  # reading costs nothing


def test_a_model_not_ready_cannot_be_exported(submit, alice, alice_api, dataset):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    response = alice_api.get(f"/api/v1/models/{model.pk}/export/mlflow/")
    assert response.status_code == 409
    assert "only a ready model can be exported" in response.json()["detail"]


def test_the_model_page_has_the_export_button(trained_model, alice_web):
    page = alice_web.get(f"/models/{trained_model.pk}/")
    assert f"/models/{trained_model.pk}/export/mlflow/" in page.content.decode()
    response = alice_web.get(f"/models/{trained_model.pk}/export/mlflow/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "MLmodel" in zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()

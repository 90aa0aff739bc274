"""Models trained through the real services on data drawn from known distributions,
and predictions made through the API and the real scoring task."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from predictions.models import Prediction
from predictions.tasks import run_prediction
from tests.observability.conftest import _metrics_not_reused, scrape, worker_queue  # noqa: F401  (fixtures)

COLORS = ["red", "green", "blue"]
COLOR_SHARES = [0.5, 0.3, 0.2]


def draw(rows: int, *, seed: int, shift_x: float = 0.0, unknown_color: float = 0.0, missing_y: float = 0.0):
    """Rows of the training distribution: x ~ N(0, 1) + shift_x, y ~ U(0, 10), color
    red/green/blue (50/30/20 %); ``unknown_color`` of the colors replaced by "purple"
    (never seen in training), ``missing_y`` of the y values left empty."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift_x, 1.0, rows)
    y = rng.uniform(0, 10, rows)
    color = rng.choice(COLORS, size=rows, p=COLOR_SHARES).astype(object)
    color[rng.random(rows) < unknown_color] = "purple"
    y_text = np.array([f"{value:.4f}" for value in y], dtype=object)
    y_text[rng.random(rows) < missing_y] = ""
    return pd.DataFrame({"x": np.round(x, 4), "y": y_text, "color": color})


def training_csv(rows: int = 1000, *, task: str = "classification") -> str:
    frame = draw(rows, seed=1)
    numbers = frame["x"] + pd.to_numeric(frame["y"]) / 5 + (frame["color"] == "red") * 0.5
    frame["label"] = (
        np.where(numbers > numbers.median(), "yes", "no") if task == "classification" else numbers
    )
    return frame.to_csv(index=False)


def train(user, *, task: str = "classification", name: str = "drifty"):
    """A ready model of ``user``'s trained through the real services (the worker's
    training_execute, synchronously)."""
    from mlmodels import services

    services.algorithm_sync()
    dataset = services.dataset_upload(
        user=user,
        file=SimpleUploadedFile("train.csv", training_csv(task=task).encode(), content_type="text/csv"),
        name=name,
        enqueue_profile=False,
    )
    request = services.training_validate(
        user=user,
        name=name,
        dataset=dataset.pk,
        target="label",
        algorithm="logistic_regression" if task == "classification" else "ridge",
    )
    model = services.model_submit(user=user, request=request, enqueue=False)
    assert services.training_claim(model_id=model.pk)
    model = services.training_execute(model_id=model.pk)
    assert model.status == "ready", model.error
    return model


@pytest.fixture
def classifier(alice):
    return train(alice)


@pytest.fixture
def regressor(alice):
    return train(alice, task="regression", name="valued")


def predict_csv(api, model, frame: pd.DataFrame) -> Prediction:
    """A CSV prediction through the API, scored by the real task."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    upload = SimpleUploadedFile("rows.csv", buffer.getvalue().encode(), content_type="text/csv")
    response = api.post("/api/v1/predictions/", {"model": model.pk, "file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    prediction = Prediction.objects.get(pk=response.json()["id"])
    assert run_prediction(prediction.pk) == f"prediction {prediction.pk} succeeded"
    return prediction


def predict_json(api, model, rows: list[dict]) -> Prediction:
    response = api.post("/api/v1/predictions/", {"model": model.pk, "inputs": rows}, format="json")
    assert response.status_code == 202, response.content
    prediction = Prediction.objects.get(pk=response.json()["id"])
    assert run_prediction(prediction.pk) == f"prediction {prediction.pk} succeeded"
    return prediction

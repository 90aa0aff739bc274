"""Trained models for prediction tests: a tiny classifier and regressor, trained once
per session with the real engine, written under each test's MEDIA_ROOT and registered
as ready TrainedModel rows."""

from __future__ import annotations

import functools
import itertools
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

FEATURES = ["age", "income", "color", "member"]
CLASSES = ["no", "yes"]
if TYPE_CHECKING:
    from mlmodels.models import TrainedModel

PRICE = Decimal("0.05")
_names = itertools.count(1)


def training_frame(task: str, rows: int = 60) -> pd.DataFrame:
    """Raw text as read from a CSV: two numeric, one categorical, one boolean column."""
    rng = np.random.RandomState(3)
    age = rng.randint(18, 80, size=rows)
    income = rng.normal(50, 15, size=rows)
    color = np.array(["red", "green", "blue"])[rng.randint(0, 3, size=rows)]
    member = np.where(rng.rand(rows) > 0.5, "true", "false")
    score = (age - 50) / 10 + (income - 50) / 15 + (color == "red") * 1.0
    frame = pd.DataFrame(
        {
            "age": age.astype(str),
            "income": [f"{value:.2f}" for value in income],
            "color": color,
            "member": member,
        }
    )
    if task == "classification":
        frame["label"] = np.where(score > np.median(score), "yes", "no")
    else:
        frame["label"] = [f"{value:.3f}" for value in score * 10 + 100]
    return frame


@dataclass(frozen=True)
class Trained:
    artifact: bytes
    sha256: str
    feature_schema: dict
    algorithm: str


@functools.cache
def trained(task: str) -> Trained:
    from mlmodels.ml.artifacts import save_artifact
    from mlmodels.ml.training import train_model

    algorithm = "logistic_regression" if task == "classification" else "ridge"
    result = train_model(training_frame(task), target="label", algorithm=algorithm, hyperparameters={})
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.joblib"
        info = save_artifact(
            path, pipeline=result.pipeline, feature_schema=result.feature_schema, algorithm=algorithm
        )
        return Trained(path.read_bytes(), info.sha256, result.feature_schema.to_dict(), algorithm)


def register_model(
    *, media_root: Path, owner, task: str = "classification", prefix: str = "model", **fields
) -> TrainedModel:
    """A ready, active TrainedModel (trained once per session and task) whose artifact
    is written under ``media_root``; ``fields`` override the model's columns."""
    from mlmodels.models import Algorithm, TrainedModel

    model = trained(task)
    algorithm, _ = Algorithm.objects.get_or_create(
        key=model.algorithm,
        defaults={"name": model.algorithm.replace("_", " ").title(), "task": task},
    )
    number = next(_names)
    relative = f"models/{owner.pk}/{prefix}-{number}.joblib"
    path = Path(media_root) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.artifact)
    values = {
        "owner": owner,
        "name": f"{prefix}-{task}-{number}",
        "algorithm": algorithm,
        "task": task,
        "target": "label",
        "status": TrainedModel.Status.READY,
        "feature_schema": model.feature_schema,
        "artifact": relative,
        "artifact_sha256": model.sha256,
        "artifact_size": len(model.artifact),
        "price_per_row": PRICE,
        "is_active": True,
        "progress": 100,
    }
    values.update(fields)
    return TrainedModel.objects.create(**values)


@pytest.fixture
def make_model(settings):
    """``make_model(owner=alice, task="classification", **fields)``: a ready, active
    TrainedModel whose artifact sits under this test's MEDIA_ROOT."""

    def make(*, owner, task: str = "classification", **fields) -> TrainedModel:
        return register_model(media_root=settings.MEDIA_ROOT, owner=owner, task=task, **fields)

    return make


@pytest.fixture
def classifier(make_model, alice):
    return make_model(owner=alice, task="classification")


@pytest.fixture
def regressor(make_model, alice):
    return make_model(owner=alice, task="regression")


ROW = {"age": 61, "income": 72.5, "color": "red", "member": True}


def csv_text(rows: int = 5, *, extra: bool = False) -> str:
    lines = ["age,income,color,member" + (",note" if extra else "")]
    colors = ["red", "green", "blue"]
    for number in range(rows):
        line = f"{20 + number % 60},{40 + number % 30}.5,{colors[number % 3]},{'true' if number % 2 else 'false'}"
        lines.append(line + (f",n{number}" if extra else ""))
    return "\n".join(lines) + "\n"


def balance_of(user) -> Decimal:
    from billing.selectors import balance_for_user

    return balance_for_user(user=user)


def stored_files(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "predictions"
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def upload(text: str, name: str = "rows.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def assert_nothing_written(alice, balance, settings):
    """No prediction, no charge, no stored file, and alice's balance untouched: what
    every refused submission must leave behind."""
    from billing.models import LedgerEntry
    from predictions.models import Prediction

    assert Prediction.objects.count() == 0
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).exists()
    assert balance(alice) == Decimal("500.00")
    assert stored_files(settings) == []


@pytest.fixture
def row() -> dict:
    """One valid input row for the test models."""
    return dict(ROW)


@pytest.fixture
def make_csv():
    """``make_csv(rows=5, extra=False)``: the text of a valid input CSV."""
    return csv_text


@pytest.fixture
def balance():
    """``balance(user)``: the user's balance as stored."""
    return balance_of


@pytest.fixture
def worker(start_worker):
    """The shared ``worker``, stopped politely: SIGTERM to the qcluster main process
    only, which stops its children itself. (Signalling the whole process group, as the
    shared fixture does, leaves the children stuck in the cluster's inherited signal
    handler until the 20 s SIGKILL fallback.)"""
    import signal
    import subprocess

    started = start_worker()
    yield started
    if started.process.poll() is None:
        started.process.send_signal(signal.SIGTERM)
        try:
            started.process.wait(20)
        except subprocess.TimeoutExpired:
            started.kill()


@pytest.fixture
def empty_model_cache():
    """The worker's model cache empty before and after the test (tests that run the
    task in this process: ``pytestmark = pytest.mark.usefixtures("empty_model_cache")``)."""
    from predictions import tasks

    tasks.cache_clear()
    yield
    tasks.cache_clear()


def submit_json(user, model, inputs):
    """A JSON prediction submitted through the service (charged, queued)."""
    from predictions import services

    return services.prediction_submit(user=user, model_id=model.pk, inputs=inputs).prediction

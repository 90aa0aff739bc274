"""Small CSVs and ready datasets for the datasets/training tests. Everything goes
through the real services (upload, profile, submit), with tiny data so each fit takes
milliseconds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

FEE = Decimal("5.00")  # Algorithm.training_price's default


def classification_csv(rows: int = 60, seed: int = 0) -> str:
    """id (unique), two numbers, a colour with a missing value, a constant, and a
    ``label`` that depends on x and the colour."""
    rng = np.random.RandomState(seed)
    lines = ["id,x,noise,color,constant,label"]
    colors = ["red", "green", "blue"]
    for number in range(rows):
        x = rng.normal()
        color = colors[number % 3]
        label = "churned" if x + (color == "red") * 0.8 > 0.3 else "stayed"
        shown_color = "" if number == 4 else color
        lines.append(f"{number + 1},{x:.4f},{rng.normal():.4f},{shown_color},same,{label}")
    return "\n".join(lines) + "\n"


def regression_csv(rows: int = 60, seed: int = 1) -> str:
    rng = np.random.RandomState(seed)
    lines = ["size,rooms,district,price"]
    for number in range(rows):
        size = rng.uniform(30, 120)
        rooms = int(size // 25) + 1
        district = ["north", "south"][number % 2]
        price = size * 3 + rooms * 10 + (district == "north") * 40 + rng.normal() * 5
        lines.append(f"{size:.1f},{rooms},{district},{price:.2f}")
    return "\n".join(lines) + "\n"


def upload_file(content: str | bytes, name: str = "data.csv") -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def media_files(settings) -> list[Path]:
    """Every file under this test's MEDIA_ROOT."""
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())


def balance_of(user) -> Decimal:
    from billing.selectors import balance_for_user

    return balance_for_user(user=user)


def ledger_kinds(user) -> list[str]:
    from billing.models import LedgerEntry

    return list(LedgerEntry.objects.filter(account__user=user).order_by("id").values_list("kind", flat=True))


@pytest.fixture
def make_dataset():
    """``make_dataset(owner, content=..., name=...)``: uploaded and profiled (ready),
    through the same services the upload page and the profile task use."""
    from mlmodels import services

    def make(owner, content: str | None = None, name: str = "data"):
        dataset = services.dataset_upload(
            user=owner,
            file=upload_file(content or classification_csv(), f"{name}.csv"),
            name=name,
            enqueue_profile=False,
        )
        return services.dataset_profile(dataset_id=dataset.pk)

    return make


@pytest.fixture
def dataset(make_dataset, alice):
    """Alice's ready classification dataset (target ``label``)."""
    return make_dataset(alice, classification_csv(), "customers")


@pytest.fixture
def regression_dataset(make_dataset, alice):
    """Alice's ready regression dataset (target ``price``)."""
    return make_dataset(alice, regression_csv(), "houses")


@pytest.fixture
def train_body(dataset):
    """A valid, fast training request on ``dataset``."""

    def body(**changes):
        data = {
            "name": "churn",
            "dataset": dataset.pk,
            "target": "label",
            "algorithm": "logistic_regression",
            "hyperparameters": {"C": 1.0},
        }
        data.update(changes)
        return {key: value for key, value in data.items() if value is not None}

    return body


@pytest.fixture
def submit():
    """``submit(user, **fields)``: validate and submit through the services, as the
    API does; returns the queued model (the task is not run)."""
    from mlmodels import services

    def run(user, **fields):
        request = services.training_validate(user=user, **fields)
        return services.model_submit(user=user, request=request)

    return run


@pytest.fixture
def trained_model(submit, alice, dataset):
    """Alice's model trained to ``ready`` by calling the task in-process."""
    from mlmodels.tasks import train_model_task

    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    train_model_task(model.pk)
    model.refresh_from_db()
    assert model.status == "ready", model.error
    return model

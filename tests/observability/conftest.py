"""Fixtures for the observability tests: a scrape of /metrics parsed into samples, a
model trained through the real services, and the JSON log lines a test produced."""

from __future__ import annotations

import io
import json
import logging
import math
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "observability-metrics-token"


@pytest.fixture(autouse=True)
def _metrics_not_reused(settings):
    # Every scrape in these tests must read the database again.
    settings.METRICS_CACHE_SECONDS = 0
    settings.METRICS_TOKEN = METRICS_TOKEN


class Scrape:
    """The samples of one /metrics answer."""

    def __init__(self, text: str):
        self.text = text
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels`` (0 when
        there is none: a counter that never moved)."""
        return math.fsum(
            sample.value
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
        )

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
            for sample in self.samples
        )


@pytest.fixture
def scrape(client):
    """``scrape()`` → Scrape of GET /metrics with the token, as Prometheus scrapes it."""

    def get(**headers) -> Scrape:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}", **headers)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return Scrape(response.content.decode())

    return get


def classification_csv(rows: int = 40) -> str:
    lines = ["x,color,label"]
    for number in range(rows):
        x = (number % 10) / 10
        color = ("red", "green")[number % 2]
        label = "yes" if x + (color == "red") * 0.3 > 0.5 else "no"
        lines.append(f"{x},{color},{label}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def trained_model(alice):
    """A ready logistic-regression model of alice's, trained synchronously through the
    real services (upload, profile, validate, submit with the fee, claim, execute)."""
    from mlmodels import services

    services.algorithm_sync()
    dataset = services.dataset_upload(
        user=alice,
        file=SimpleUploadedFile("train.csv", classification_csv().encode(), content_type="text/csv"),
        name="train",
        enqueue_profile=False,
    )
    services.dataset_profile(dataset_id=dataset.pk)
    request = services.training_validate(
        user=alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression"
    )
    model = services.model_submit(user=alice, request=request, enqueue=False)
    assert services.training_claim(model_id=model.pk)
    model = services.training_execute(model_id=model.pk)
    assert model.status == "ready", model.error
    return model


class LogCapture:
    def __init__(self):
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]


@pytest.fixture
def json_logs():
    """Everything logged during the test, through the service's JSON formatter and
    context filter, as the console handler writes it with LOG_FORMAT=json."""
    from core.logs import ContextFilter, JsonFormatter

    capture = LogCapture()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


@pytest.fixture
def worker_queue(settings, monkeypatch, transactional_db):
    """A queue of this test's own for real qclusters: ``start_worker(extra_env=worker_queue)``.

    Test runs side by side share one Redis; with its own queue name, a test neither
    takes another run's tasks nor counts its clusters as alive. django-q reads the name
    when it is imported, so this process's copy is set here too. With the ORM broker,
    the clusters' status lives in Django's cache, so this process reads the same
    database cache the qcluster writes (not the per-test memory cache)."""
    from django.core.management import call_command
    from django_q.conf import Conf

    name = f"obs-{uuid.uuid4().hex[:10]}"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "name": name}
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    if "orm" in settings.Q_CLUSTER:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "mlservice_cache",
            }
        }
        call_command("createcachetable", verbosity=0)
    return {"QUEUE_NAME": name}

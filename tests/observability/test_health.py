"""/healthz: 503 naming the part that fails, quickly, whatever the broker does."""

from __future__ import annotations

import socket
import time
import uuid

import pytest


@pytest.fixture
def own_queue(settings):
    # A queue name of this test's own: a qcluster of another test run sharing Redis
    # must not count as ours.
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "name": f"obs-{uuid.uuid4().hex[:8]}"}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_it_answers_503_naming_the_worker_when_no_cluster_is_alive(db, client, own_queue):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["worker"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"
    assert body["checks"]["broker"]["queue_depth"] == 0
    assert body["checks"]["worker"] == {
        "status": "fail",
        "error": "no qcluster seen in the last 60 s",
        "clusters": 0,
        "ms": body["checks"]["worker"]["ms"],
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_answers_503_naming_the_broker_when_redis_cannot_be_reached(db, client, settings, own_queue):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    started = time.monotonic()
    response = client.get("/healthz")

    assert time.monotonic() - started < 5
    assert response.status_code == 503
    body = response.json()
    assert "broker" in body["failing"]
    assert body["checks"]["broker"]["status"] == "fail"
    assert body["checks"]["broker"]["error"] == "broker unavailable (ConnectionError)"
    assert body["checks"]["database"]["status"] == "ok"
    # The address is for the log, not for whoever asks.
    assert "127.0.0.1" not in response.content.decode()


def test_a_broker_that_never_answers_is_given_up_on_within_the_timeout(db, client, settings, own_queue):
    # A listening socket that accepts but never replies: Redis' PING waits until the
    # socket timeout.
    settings.HEALTH_TIMEOUT_SECONDS = 1
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"

        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert "broker" in response.json()["failing"]
    assert elapsed < 2.5


def test_metrics_report_the_broker_down_instead_of_failing(db, scrape, settings, own_queue):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"

    metrics = scrape()
    assert metrics.value("mlservice_broker_up") == 0
    assert not metrics.has("mlservice_queue_depth")
    assert metrics.value("mlservice_database_metrics_up") == 1

"""Helpers shared by the observability tests."""

from __future__ import annotations

import os
import signal

from predictions.models import Prediction

ROWS = [{"x": 0.1, "color": "red"}, {"x": 0.9, "color": "green"}, {"x": 0.5, "color": "red"}]


def submit(api, model, rows=ROWS, **headers) -> Prediction:
    """A JSON prediction through the real API; the job is ``queued`` and charged."""
    response = api.post("/api/v1/predictions/", {"model": model.pk, "inputs": rows}, format="json", **headers)
    assert response.status_code == 202, response.content
    return Prediction.objects.get(pk=response.json()["id"])


def stop_worker(worker) -> None:
    """Stop a qcluster the way an operator does: SIGTERM to its main process, which
    stops its children and exits within seconds. (The shared fixture signals the whole
    process group; the children, signaled too, leave the cluster waiting until the
    fixture's 20-second SIGKILL.)"""
    if worker.process.poll() is None:
        os.kill(worker.process.pid, signal.SIGTERM)
        worker.process.wait(30)

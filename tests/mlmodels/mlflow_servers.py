"""MLflow itself for the MLflow tests (``devservers.mlflow``): they skip, saying why,
when ``.venv-mlflow`` is missing locally; CI sets ``MLFLOW_REQUIRED=1`` and they fail
instead. ``http`` is the tests' plain client for MLflow's REST answers."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from devservers.mlflow import MLFLOW, MLFLOW_VENV, mlflow_process, run_mlflow_python

__all__ = ["http", "mlflow_process", "require_mlflow", "run_mlflow_python"]


def require_mlflow() -> None:
    if MLFLOW.exists():
        return
    reason = (
        f"MLflow is not installed in {MLFLOW_VENV} (./scripts/test.sh builds it from requirements-mlflow.txt)"
    )
    if os.environ.get("MLFLOW_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


def http(
    method: str, url: str, body: object = None, *, content_type: str = "application/json"
) -> tuple[int, object]:
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode("utf-8", "replace")

"""MLflow itself, for the MLflow tests: its command-line servers started from the separate
virtualenv ``.venv-mlflow`` (built from requirements-mlflow.txt by scripts/test.sh; MLflow
cannot live in the service's own virtualenv, their pins conflict), on free loopback
ports, and stopped at the end of the test.

Locally the tests skip, saying why, when ``.venv-mlflow`` is missing; CI sets
``MLFLOW_REQUIRED=1`` and they fail instead."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_VENV = ROOT / ".venv-mlflow"
MLFLOW = MLFLOW_VENV / "bin" / "mlflow"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"


def require_mlflow() -> None:
    if MLFLOW.exists():
        return
    reason = (
        f"MLflow is not installed in {MLFLOW_VENV} (./scripts/test.sh builds it from requirements-mlflow.txt)"
    )
    if os.environ.get("MLFLOW_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def _environment() -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO", "MLFLOW_"))
    }
    environment["PATH"] = f"{MLFLOW_VENV / 'bin'}:{environment.get('PATH', '')}"
    environment["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    return environment


@contextmanager
def mlflow_process(arguments: list[str], *, ready_path: str, log_path: Path, cwd: Path, timeout: float = 180):
    """Run ``mlflow <arguments>`` on a free loopback port; yield its base URL once
    ``ready_path`` answers 200; stop it (its own process group) afterwards."""
    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        [str(MLFLOW), *arguments, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=_environment(),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"mlflow exited with {process.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(base + ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"mlflow did not answer in {timeout} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def run_mlflow_python(script: str, *arguments: str, cwd: Path) -> str:
    """Run ``script`` with MLflow's Python; its standard output."""
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", script, *arguments],
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout

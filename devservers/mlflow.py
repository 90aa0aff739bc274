"""MLflow's command-line servers (``mlflow server``, ``mlflow models serve``) and its
Python, from the separate virtualenv ``.venv-mlflow`` (built from
requirements-mlflow.txt by scripts/test.sh: MLflow's pins conflict with the service's).
MLflow is a development and benchmark requirement, never a runtime one."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port
from .processes import stop_session, wait_until_answering

ROOT = Path(__file__).resolve().parents[1]
MLFLOW_VENV = ROOT / ".venv-mlflow"
MLFLOW = MLFLOW_VENV / "bin" / "mlflow"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"


def environment(drop: Iterable[str] = ()) -> dict[str, str]:
    """This environment without Django's and MLflow's own variables (nor ``drop``),
    with MLflow's virtualenv first on PATH."""
    dropped = set(drop)
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO", "MLFLOW_")) and key not in dropped
    }
    kept["PATH"] = f"{MLFLOW_VENV / 'bin'}:{kept.get('PATH', '')}"
    kept["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    return kept


@dataclass(frozen=True)
class Running:
    url: str
    port: int
    pid: int


@contextmanager
def mlflow_process(
    arguments: list[str],
    *,
    ready_path: str,
    log_path: Path,
    cwd: Path,
    timeout: float = 180,
    drop: Iterable[str] = (),
) -> Iterator[Running]:
    """Run ``mlflow <arguments>`` on a free loopback port, in a session of its own;
    yield it once ``ready_path`` answers 200; stop that session (only it) afterwards."""
    port = free_port()
    with open(log_path, "wb") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [str(MLFLOW), *arguments, "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=environment(drop),
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(process, url + ready_path, log_path=log_path, timeout=timeout, name="mlflow")
        yield Running(url, port, process.pid)
    finally:
        stop_session(process)


def run_mlflow_python(script: str, *arguments: str, cwd: Path, drop: Iterable[str] = ()) -> str:
    """Run ``script`` with MLflow's Python; its standard output (RuntimeError with the
    end of its standard error if it fails)."""
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", script, *arguments],
        cwd=cwd,
        env=environment(drop),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return done.stdout

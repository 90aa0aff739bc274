"""The benchmarks under bench/ in a smoke mode (tiny sizes), so they keep working: each
runs as a user would run it, starts its own throwaway deployment (gunicorn, qcluster,
PostgreSQL and Redis databases of its own, MLflow's server) and must end cleanly with
its books right. Their timings are not checked: benchmarks print numbers, tests do not
time anything.

They need PostgreSQL and Redis on loopback (bench/harness.py) and run with the
PostgreSQL suite (CI's second run), once; ``BENCH_SMOKE=1`` runs them anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MLFLOW = ROOT / ".venv-mlflow" / "bin" / "mlflow"

pytestmark = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL", "").startswith("postgres") or os.environ.get("BENCH_SMOKE")),
    reason="the benchmark smoke runs go with the PostgreSQL suite (or set BENCH_SMOKE=1)",
)


def bench(script: str, *arguments: str, timeout: float = 600) -> str:
    """Run ``bench/<script>`` as a user would, outside this test's settings; its output."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "MEDIA_ROOT", "VAR_DIR")
    }
    finished = subprocess.run(
        [sys.executable, f"bench/{script}", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output[-4000:]
    return output


def assert_every_prediction_succeeded_and_charged(output: str) -> None:
    match = re.search(r"(\d+)/(\d+) predictions succeeded, (\d+) charges in the ledger, audit: clean", output)
    assert match, output[-3000:]
    succeeded, made, charges = (int(value) for value in match.groups())
    assert succeeded == made == charges > 0


@pytest.mark.parametrize("broker", ["sqlite", "redis"])
def test_one_row_latency(broker):
    output = bench(
        "bench_latency.py", "--requests", "3", "--warmup", "1", *(["--redis"] if broker == "redis" else [])
    )
    assert "errors 0" in output
    assert_every_prediction_succeeded_and_charged(output)


def test_throughput_with_concurrent_clients():
    output = bench("bench_throughput.py", "--clients", "2", "--seconds", "2", "--warmup", "1")
    assert re.search(r"predictions/s over [\d.]+ s\s+errors 0", output), output[-3000:]
    assert_every_prediction_succeeded_and_charged(output)


def test_against_mlflow_models_serve():
    if not MLFLOW.exists() and not os.environ.get("MLFLOW_REQUIRED"):
        pytest.skip(".venv-mlflow is missing (scripts/test.sh builds it)")
    output = bench(
        "bench_vs_mlflow.py",
        *(
            "--requests",
            "3",
            "--warmup",
            "1",
            "--clients",
            "2",
            "--seconds",
            "1",
            "--concurrent-warmup",
            "0.5",
        ),
    )
    # Every endpoint answered, MLflow and the service alike, with the same class.
    for name in ("mlflow", "mlflow, new connections", "service", "service invocations"):
        assert re.search(rf"^  {re.escape(name)} +median .* errors 0  answers \['\w+'\]$", output, re.M), (
            output
        )
    assert "every prediction charged once; audit: clean" in output


def test_a_csv_against_the_plain_script():
    output = bench("bench_csv_service.py", "--rows", "2000")
    assert "2,000 rows charged" in output and "the plain script" in output


def test_the_scoring_engine_against_plain_pandas():
    assert "score_csv is" in bench("bench_engine_scoring.py", "--rows", "2000")


def test_the_billing_audit_finds_every_corrupted_balance():
    output = bench("bench_billing_audit.py", "--accounts", "100", "--repeat", "1")
    assert re.search(r"clean audit #1: .* 0 problems", output), output
    assert re.search(r"audit with (\d+) corrupted balances: .* (\d+) problems", output), output


def test_sign_up_and_log_in():
    output = bench("bench_auth.py", "--requests", "1")
    assert "sign-up (API auth/register/)" in output and "log-in (admin)" in output


def test_training_against_a_bare_script():
    output = bench("bench_training.py", "--rows", "600")
    for name in ("LogisticRegression", "CatBoost"):
        assert re.search(rf"^{name} \(holdout accuracy 0\.\d+\)$", output, re.M), output[-3000:]
    assert len(re.findall(r"bare, (one fit|same protocol) .* service / bare [\d.]+x", output)) == 4, output

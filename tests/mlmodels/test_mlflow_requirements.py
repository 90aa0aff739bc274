"""The tests' MLflow virtualenv must load the service's pickles as the service does: the
libraries a pipeline is made of are pinned to the same versions in both files."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ("numpy", "pandas", "scikit-learn", "scipy", "joblib", "threadpoolctl", "catboost")


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            package, version = line.split("==", 1)
            found[package.strip().lower()] = version.strip()
    return found


def test_mlflow_requirements_pin_the_services_model_libraries():
    service, mlflow = pins("requirements.txt"), pins("requirements-mlflow.txt")
    assert {name: mlflow.get(name) for name in SHARED} == {name: service[name] for name in SHARED}
    assert mlflow["mlflow"]
    assert "mlflow" not in service  # never in the service's own virtualenv

"""Benchmark (issue 18): training through the service against the same fit in a bare
script, on the benchmark table (25 columns, bench/workload.py).

    .venv/bin/python bench/bench_training.py                  # 20,000 rows, both algorithms
    .venv/bin/python bench/bench_training.py --rows 2000      # a quick look

The service is bench/harness.py's deployment (PostgreSQL + Redis, gunicorn with
deploy/gunicorn.conf.py, one qcluster): the table is uploaded (``POST datasets/``), then
``POST models/`` trains LogisticRegression and CatBoost with the service's defaults
(a holdout of 20%, metrics and importances on it, a refit on every row); the wall time
runs from the POST to the first poll (every 0.05 s) that sees the model ready.

Two bare scripts, each a fresh Python process reading the same CSV with pandas and
fitting the same estimator with the same hyperparameters (scikit-learn's usual
imputing, scaling and one-hot preprocessing; CatBoost's native categorical features),
timed as a whole (start, imports, read, fit):

- **one fit**: what a five-line script does, fit on every row;
- **same protocol**: the service's work without its service: split 80/20, fit,
  predict the holdout, refit on every row.

Target (issue 18): the service's wall time ≤ 1.2 × the bare script + 1 s. Printed for
both baselines, with the service's own timings (fit, evaluate, refit) from the model.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import harness
import workload

ALGORITHMS = {"logistic_regression": "LogisticRegression", "catboost_classifier": "CatBoost"}
TARGET_FACTOR, TARGET_SECONDS = 1.2, 1.0

BARE_SCRIPT = r"""
import json, sys, time
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

path, algorithm, protocol = sys.argv[1], sys.argv[2], sys.argv[3]
frame = pd.read_csv(path)
y = frame.pop("target")
categorical = [name for name in frame.columns if name.startswith("c")]
numeric = [name for name in frame.columns if name not in categorical]


def model():
    if algorithm == "catboost_classifier":
        from catboost import CatBoostClassifier

        return CatBoostClassifier(verbose=0, random_seed=42, cat_features=categorical, allow_writing_files=False)
    encode = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("categorical", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                      OneHotEncoder(handle_unknown="ignore")), categorical),
    ])
    return make_pipeline(encode, LogisticRegression(C=1.0, max_iter=1000))


if algorithm == "catboost_classifier":
    frame[categorical] = frame[categorical].fillna("missing")
started = time.perf_counter()
if protocol == "same-protocol":
    x_train, x_test, y_train, y_test = train_test_split(frame, y, test_size=0.2, random_state=42, stratify=y)
    fitted = model().fit(x_train, y_train)
    fitted.predict_proba(x_test)
model().fit(frame, y)
print(json.dumps({"work_seconds": time.perf_counter() - started}))
"""


def bare(csv: Path, algorithm: str, protocol: str) -> dict:
    """A bare script in a fresh process: its whole wall time and its own work time."""
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-c", BARE_SCRIPT, str(csv), algorithm, protocol],
        capture_output=True,
        text=True,
        check=True,
        cwd=workload.OUT,
    )
    wall = time.perf_counter() - started
    return {"wall_seconds": wall, **json.loads(finished.stdout.strip().splitlines()[-1])}


def upload(stack: harness.Stack, token: str, csv: Path) -> int:
    import requests

    with open(csv, "rb") as handle:
        answer = requests.post(
            f"{stack.base_url}/api/v1/datasets/",
            headers={"Authorization": f"Token {token}"},
            files={"file": (csv.name, handle, "text/csv")},
            data={"name": "benchmark table"},
            timeout=600,
        )
    answer.raise_for_status()
    dataset = answer.json()
    deadline = time.monotonic() + 600
    while dataset["status"] not in ("ready", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        _, dataset = harness.api_json(f"{stack.base_url}/api/v1/datasets/{dataset['id']}/", token)
    if dataset["status"] != "ready":
        raise RuntimeError(f"the dataset did not become ready: {dataset}")
    return dataset["id"]


def train(stack: harness.Stack, token: str, dataset: int, algorithm: str) -> dict:
    """The service's training, from the POST to the first poll that sees it ready."""
    from mlmodels.models import TrainedModel

    started = time.perf_counter()
    status, model = harness.api_json(
        f"{stack.base_url}/api/v1/models/",
        token,
        method="POST",
        body={"name": f"bench {algorithm}", "dataset": dataset, "target": "target", "algorithm": algorithm},
    )
    if status != 202:
        raise RuntimeError(f"POST models/ answered {status}: {model}")
    while model["status"] not in ("ready", "failed"):
        time.sleep(0.05)
        _, model = harness.api_json(f"{stack.base_url}/api/v1/models/{model['id']}/", token)
    wall = time.perf_counter() - started
    if model["status"] != "ready":
        raise RuntimeError(f"training failed: {model.get('error')}")
    timings = TrainedModel.objects.get(pk=model["id"]).timings
    return {"wall_seconds": wall, "timings": timings, "accuracy": model["metrics"].get("accuracy")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=workload.TRAIN_ROWS)
    parser.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=list(ALGORITHMS))
    arguments = parser.parse_args()
    started_at = datetime.datetime.now(datetime.UTC)
    workload.OUT.mkdir(parents=True, exist_ok=True)
    csv = workload.OUT / f"train_{arguments.rows}.csv"
    if not csv.exists():
        workload.write_csv(workload.generate_table(arguments.rows, seed=7, with_target=True), csv)
    results: dict = {"started_at": started_at.isoformat(timespec="seconds"), "rows": arguments.rows}
    results["load_at_start"] = os.getloadavg()
    print(f"training on {arguments.rows:,} rows x 25 columns, 2 CPUs, load {os.getloadavg()[0]:.2f}")
    with harness.Stack(name="training", postgres=True, redis=True) as stack:
        (user, token), *_ = harness.make_users(1)
        stack.start_worker()
        stack.start_web()
        dataset = upload(stack, token, csv)
        for algorithm in arguments.algorithms:
            service = train(stack, token, dataset, algorithm)
            one_fit = bare(csv, algorithm, "one-fit")
            same = bare(csv, algorithm, "same-protocol")
            results[algorithm] = {"service": service, "one_fit": one_fit, "same_protocol": same}
            timings = service["timings"]
            print(f"\n{ALGORITHMS[algorithm]} (holdout accuracy {service['accuracy']})")
            print(
                f"  service      {service['wall_seconds']:7.2f} s  (its fit {timings.get('fit_seconds')} s, "
                f"evaluate {timings.get('evaluate_seconds')} s, refit {timings.get('refit_seconds')} s, "
                f"engine total {timings.get('total_seconds')} s)"
            )
            for name, bare_run in (("one fit", one_fit), ("same protocol", same)):
                limit = TARGET_FACTOR * bare_run["wall_seconds"] + TARGET_SECONDS
                ratio = service["wall_seconds"] / bare_run["wall_seconds"]
                verdict = "met" if service["wall_seconds"] <= limit else "NOT met"
                print(
                    f"  bare, {name:13} {bare_run['wall_seconds']:6.2f} s (its work {bare_run['work_seconds']:.2f} s)"
                    f"  service / bare {ratio:.2f}x; target <= 1.2 x bare + 1 s = {limit:.2f} s: {verdict}"
                )
    results["load_at_end"] = os.getloadavg()
    path = workload.OUT / f"training-{started_at.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nload {os.getloadavg()[0]:.2f} at the end; written to {path.relative_to(workload.ROOT)}")


if __name__ == "__main__":
    main()

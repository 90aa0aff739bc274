"""Benchmark: scoring a large CSV with the engine (``scoring.score_csv``) against the
plain pandas script people would otherwise write (read_csv, predict_proba, to_csv).

    .venv/bin/python bench/bench_engine_scoring.py            # 1,000,000 rows
    .venv/bin/python bench/bench_engine_scoring.py --rows 50000

The input (20 numeric + 5 categorical columns, a few missing values, deterministic) is
generated once into bench/out/ (git-ignored) and reused. A LogisticRegression pipeline
(imputer + scaler, imputer + one-hot) is fitted on 5,000 other rows. Each variant then
runs in its own fresh Python process, so its peak RSS (ru_maxrss) is its own and not
inflated by the generator or by the other variant.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

# The same 25-column table as the service benchmarks (bench/workload.py), so the
# engine-only and end-to-end figures describe the same data.
from workload import CATEGORICAL, NUMERIC, write_csv  # noqa: E402
from workload import generate_table as generate  # noqa: E402

TRAIN_ROWS = 5_000


def prepare(rows: int) -> tuple[Path, Path]:
    """The input file and a pickled (pipeline, schema) fitted on separate rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlmodels.ml.csvio import read_table
    from mlmodels.ml.schema import Feature, FeatureSchema, coerce_frame

    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / f"scoring_input_{rows}.csv"
    if not data.exists():
        started = time.perf_counter()
        batch = 200_000
        parts = []
        for number, start in enumerate(range(0, rows, batch)):
            parts.append(generate(min(batch, rows - start), seed=1000 + number, with_target=False))
        write_csv(pa.concat_tables(parts), data)
        size, seconds = data.stat().st_size / 1e6, time.perf_counter() - started
        print(f"generated {data.name} ({size:.0f} MB) in {seconds:.1f}s")
    train = OUT / "scoring_train.csv"
    if not train.exists():
        write_csv(generate(TRAIN_ROWS, seed=7, with_target=True), train)

    table = read_table(train, max_rows=TRAIN_ROWS, max_columns=100)
    features = [Feature(name, "numeric") for name in NUMERIC] + [
        Feature(name, "categorical") for name in CATEGORICAL
    ]
    schema = FeatureSchema(target="target", task="classification", features=features, classes=["no", "yes"])
    coerced, _, _ = coerce_frame(table.frame, features)
    pipeline = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        (
                            "numeric",
                            Pipeline(
                                [
                                    ("impute", SimpleImputer(strategy="median")),
                                    ("scale", StandardScaler()),
                                ]
                            ),
                            NUMERIC,
                        ),
                        (
                            "categorical",
                            Pipeline(
                                [
                                    (
                                        "impute",
                                        SimpleImputer(strategy="constant", fill_value="(missing)"),
                                    ),
                                    ("encode", OneHotEncoder(handle_unknown="ignore")),
                                ]
                            ),
                            CATEGORICAL,
                        ),
                    ]
                ),
            ),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    )
    pipeline.fit(coerced, table.frame["target"].astype(object))
    model = OUT / "scoring_model.pkl"
    model.write_bytes(pickle.dumps((pipeline, schema)))
    return data, model


# --- The two variants, each run in a child process ----------------------------------------


def run_plain(data: Path, model: Path, result: Path) -> dict[str, float]:
    """What a data scientist would write: pandas in, predict_proba, pandas out."""
    import pandas as pd

    pipeline, schema = pickle.loads(model.read_bytes())
    started = time.perf_counter()
    frame = pd.read_csv(data)
    probabilities = pipeline.predict_proba(frame[schema.feature_names])
    frame["prediction"] = pipeline.classes_[probabilities.argmax(axis=1)]
    for position, value in enumerate(pipeline.classes_):
        frame[f"probability_{value}"] = probabilities[:, position]
    frame.to_csv(result, index=False)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def run_engine(data: Path, model: Path, result: Path) -> dict[str, float]:
    from mlmodels.ml.scoring import score_csv

    pipeline, schema = pickle.loads(model.read_bytes())
    summary = score_csv(pipeline, schema, data, result)
    return {
        "seconds": summary.total_seconds,
        "scoring_seconds": summary.scoring_seconds,
        "rows": summary.rows,
    }


def run_validate(data: Path, model: Path, result: Path) -> dict[str, float]:
    from mlmodels.ml.inputs import validate_csv

    _, schema = pickle.loads(model.read_bytes())
    started = time.perf_counter()
    summary = validate_csv(data, schema, max_rows=10**9)
    return {"seconds": time.perf_counter() - started, "rows": summary.rows}


VARIANTS = {"plain": run_plain, "engine": run_engine, "validate": run_validate}


def child(variant: str, data: Path, model: Path, result: Path) -> None:
    outcome = VARIANTS[variant](data, model, result)
    outcome["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    print(json.dumps(outcome))


def measure(variant: str, data: Path, model: Path, result: Path) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--data",
        str(data),
        "--model",
        str(model),
        "--result",
        str(result),
    ]
    completed = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.child, arguments.data, arguments.model, arguments.result)
        return

    data, model = prepare(arguments.rows)
    results = {}
    for variant in ("plain", "engine", "validate"):
        result = OUT / f"scoring_result_{variant}_{arguments.rows}.csv"
        results[variant] = outcome = measure(variant, data, model, result)
        extra = (
            f", of which pipeline {outcome['scoring_seconds']:.2f}s" if "scoring_seconds" in outcome else ""
        )
        speed = outcome["rows"] / outcome["seconds"]
        print(
            f"{variant:>8}: {outcome['seconds']:7.2f}s  {speed:>10,.0f} rows/s  "
            f"peak RSS {outcome['peak_rss_mb']:6.0f} MB{extra}"
        )
        if variant != "validate":
            result.unlink(missing_ok=True)
    ratio = results["plain"]["seconds"] / results["engine"]["seconds"]
    print(
        f"score_csv is {ratio:.1f}x faster than the plain pandas script "
        f"({arguments.rows:,} rows x 25 columns)"
    )


if __name__ == "__main__":
    main()

"""The benchmarks' workload: the 25-column table (20 numeric, 5 categorical columns,
1% missing values) generated deterministically, the input CSVs written from it, one
JSON row for single-row predictions, and the model trained on it with the engine.
Everything is cached under bench/out/ (git ignores it). Importing this module puts
the project root on sys.path, so the engine (``mlmodels.ml``) imports too.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

# The benchmark table: 20 numeric and 5 categorical columns, 1% missing values.
NUMERIC = [f"x{number:02d}" for number in range(1, 21)]
CATEGORICAL = [f"c{number}" for number in range(1, 6)]
LEVELS = [8, 20, 50, 3, 120]
MISSING_RATE = 0.01
TRAIN_ROWS = 20_000


def generate_table(rows: int, seed: int, *, with_target: bool) -> pa.Table:
    """Deterministic for a given seed; the target depends on every column."""
    rng = np.random.default_rng(seed)
    shape = np.random.default_rng(12345)  # column means/scales/weights: the same in every batch
    columns: dict[str, pa.Array] = {}
    signal_ = np.zeros(rows)
    for name in NUMERIC:
        mean, scale, weight = shape.uniform(-5, 5), shape.uniform(0.5, 20), shape.normal()
        values = np.round(rng.normal(loc=mean, scale=scale, size=rows), 4)
        signal_ += weight * (values - mean) / scale
        columns[name] = pa.array(values, mask=rng.random(rows) < MISSING_RATE)
    for name, levels in zip(CATEGORICAL, LEVELS, strict=True):
        codes = rng.integers(0, levels, size=rows)
        signal_ += (codes % 3 - 1) * 0.5
        labels = np.array([f"{name}_level_{code:03d}" for code in range(levels)], dtype=object)
        columns[name] = pa.array(labels[codes], mask=rng.random(rows) < MISSING_RATE)
    if with_target:
        probability = 1 / (1 + np.exp(-signal_ / 3))
        columns["target"] = pa.array(np.where(rng.random(rows) < probability, "yes", "no"))
    return pa.table(columns)


def write_csv(table: pa.Table, path: Path) -> None:
    temporary = path.with_suffix(".part")
    pacsv.write_csv(table, temporary, pacsv.WriteOptions(quoting_style="none"))
    os.replace(temporary, path)


def input_csv(rows: int) -> Path:
    """bench/out/service_input_<rows>.csv, generated once (in batches, bounded memory)."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"service_input_{rows}.csv"
    if path.exists():
        return path
    started = time.perf_counter()
    temporary = path.with_suffix(".part")
    batch = 200_000
    with pacsv.CSVWriter(
        temporary,
        generate_table(1, 0, with_target=False).schema,
        write_options=pacsv.WriteOptions(quoting_style="none"),
    ) as writer:
        for number, start in enumerate(range(0, rows, batch)):
            writer.write_table(
                generate_table(min(batch, rows - start), seed=1000 + number, with_target=False)
            )
    os.replace(temporary, path)
    print(
        f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s"
    )
    return path


def one_row() -> dict:
    """One JSON input row for single-row predictions."""
    table = generate_table(1, seed=99, with_target=False).to_pylist()[0]
    return {name: value for name, value in table.items()}


def trained_model_files() -> tuple[Path, dict]:
    """The benchmark model (LogisticRegression on the 25-column table, trained with the
    engine), cached in bench/out/ so reruns skip training."""
    artifact = OUT / "service_model.joblib"
    meta = OUT / "service_model.json"
    if artifact.exists() and meta.exists():
        return artifact, json.loads(meta.read_text())
    from mlmodels.ml.artifacts import save_artifact
    from mlmodels.ml.training import train_model

    started = time.perf_counter()
    frame = generate_table(TRAIN_ROWS, seed=7, with_target=True).to_pandas()
    raw = frame.astype(object).where(frame.notna(), "").astype(str)  # as a CSV reads: text
    result = train_model(raw, target="target", algorithm="logistic_regression", hyperparameters={})
    info = save_artifact(
        artifact,
        pipeline=result.pipeline,
        feature_schema=result.feature_schema,
        algorithm="logistic_regression",
    )
    data = {"sha256": info.sha256, "feature_schema": result.feature_schema.to_dict()}
    meta.write_text(json.dumps(data))
    print(f"trained the benchmark model in {time.perf_counter() - started:.1f} s")
    return artifact, data

"""Scoring a few rows through the compiled preprocessing must give exactly what the
scikit-learn pipeline gives — for every algorithm in the catalog, with missing values,
unknown categories and categories the encoder lumps together as infrequent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmodels.ml import fastpath, scoring
from mlmodels.ml.catalog import ALGORITHMS
from mlmodels.ml.fastpath import FastTransform, NativeTransform, compile_transform, fast_transform_for
from mlmodels.ml.inputs import validate_records
from mlmodels.ml.preprocessing import MAX_ONE_HOT_CATEGORIES
from mlmodels.ml.scoring import predict_frame
from mlmodels.ml.training import train_model

ROWS = 240
CITIES = [f"city{number:02d}" for number in range(MAX_ONE_HOT_CATEGORIES + 20)]  # some infrequent


def _table(task: str) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    signal = rng.normal(size=ROWS)
    size = rng.uniform(1, 1000, size=ROWS)
    colour = rng.choice(["red", "green", "blue"], size=ROWS)
    city = rng.choice(CITIES, size=ROWS)
    member = rng.choice(["yes", "no"], size=ROWS)
    score = 2 * signal + (colour == "red") + size / 500
    frame = pd.DataFrame(
        {
            "signal": [f"{value:.4f}" for value in signal],
            "size": [f"{value:.2f}" for value in size],
            "colour": colour,
            "city": city,
            "member": member,
        },
        dtype=object,
    )
    for row in range(0, ROWS, 17):  # missing values in every column
        frame.loc[row, ["signal", "size", "colour", "city", "member"][row % 5]] = ""
    if task == "classification":
        frame["label"] = np.where(score > np.median(score), "high", np.where(signal > 0, "mid", "low"))
    else:
        frame["label"] = [f"{value:.3f}" for value in score]
    return frame


# Rows a client might send: ordinary, every value missing, unknown categories, numbers
# far outside the training range, and all the cities (frequent and infrequent).
PROBE_RECORDS = [
    {"signal": 0.3, "size": 500, "colour": "red", "city": "city03", "member": "yes"},
    {},
    {"signal": "1e6", "size": -3, "colour": "ultraviolet", "city": "Atlantis", "member": None},
    *(
        {"signal": 0.1 * number, "size": number, "colour": "blue", "city": city}
        for number, city in enumerate(CITIES)
    ),
]

ALGORITHM_KEYS = sorted(ALGORITHMS)


@pytest.fixture(scope="module")
def trained():
    cache = {}

    def get(key: str):
        if key not in cache:
            spec = ALGORITHMS[key]
            cache[key] = train_model(
                _table(spec.task), target="label", algorithm=key, hyperparameters=_quick(key)
            )
        return cache[key]

    return get


def _quick(key: str) -> dict:
    if "catboost" in key:
        return {"iterations": 20}
    if "random_forest" in key:
        return {"n_estimators": 10}
    if "gradient_boosting" in key:
        return {"max_iter": 10}
    return {}


def _coerced(result, records) -> pd.DataFrame:
    schema = result.feature_schema
    checked = validate_records(records, schema, max_rows=len(records))
    # As the worker rebuilds it (predictions.coerced): float64, or str with NaN.
    columns = {}
    for position, feature in enumerate(schema.features):
        values = [row[position] for row in checked.coerced]
        if feature.kind == "numeric":
            columns[feature.name] = np.array(values, dtype="float64")
        else:
            columns[feature.name] = pd.Series([np.nan if v is None else v for v in values], dtype=object)
    return pd.DataFrame(columns)


@pytest.mark.parametrize("key", ALGORITHM_KEYS)
def test_the_compiled_preprocessing_scores_exactly_like_scikit_learn(key, trained, monkeypatch):
    result = trained(key)
    frame = _coerced(result, PROBE_RECORDS)
    # One row at a time (as one-row predictions come) and all together: a linear
    # model's BLAS call may round a batch differently from a single row, in
    # scikit-learn's own path as much as in ours, so each shape is compared with itself.
    shapes = [frame] + [frame.iloc[[row]].reset_index(drop=True) for row in range(len(frame))]

    def score(limit: int) -> list[pd.DataFrame]:
        monkeypatch.setattr(scoring, "FAST_MAX_ROWS", limit)
        return [predict_frame(result.pipeline, part, result.feature_schema) for part in shapes]

    for fast, slow in zip(score(fastpath.MAX_ROWS), score(0), strict=True):
        pd.testing.assert_frame_equal(fast, slow, check_exact=True)


@pytest.mark.parametrize("key", ALGORITHM_KEYS)
def test_every_pipeline_of_the_catalog_compiles(key, trained):
    compiled = compile_transform(trained(key).pipeline)
    # CatBoost's native preprocessor hands it a DataFrame; the others get one matrix.
    expected = NativeTransform if "catboost" in key else FastTransform
    assert isinstance(compiled, expected), f"{key}: scoring a few rows would be 2-4 ms slower"


def test_catboost_gets_the_very_frame_its_preprocessor_makes(trained):
    result = trained("catboost_classifier")
    frame = _coerced(result, PROBE_RECORDS)

    pd.testing.assert_frame_equal(
        compile_transform(result.pipeline)(frame),
        result.pipeline.steps[0][1].transform(frame),
        check_exact=True,
    )


def test_the_transform_equals_the_preprocessor_output(trained):
    result = trained("logistic_regression")
    frame = _coerced(result, PROBE_RECORDS)
    compiled = compile_transform(result.pipeline)

    np.testing.assert_array_equal(compiled(frame), result.pipeline.steps[0][1].transform(frame))


def test_a_transform_that_differs_in_the_last_bit_is_not_used(trained, monkeypatch):
    result = trained("logistic_regression")
    real_write = fastpath._Numeric.write

    def slightly_off(self, frame, out):
        real_write(self, frame, out)
        out[0, 0] = np.nextafter(out[0, 0], np.inf)

    monkeypatch.setattr(fastpath._Numeric, "write", slightly_off)
    assert compile_transform(result.pipeline) is None


def test_the_transform_is_built_once_per_pipeline(trained, monkeypatch):
    pipeline = trained("ridge").pipeline
    first = fast_transform_for(pipeline)
    monkeypatch.setattr(fastpath, "compile_transform", lambda pipeline: pytest.fail("compiled again"))

    assert fast_transform_for(pipeline) is first is not None


def test_a_column_with_very_many_categories_keeps_scikit_learn(trained, monkeypatch):
    monkeypatch.setattr(fastpath, "MAX_TABLE_CATEGORIES", 10)  # the city column has more
    assert compile_transform(trained("logistic_regression").pipeline) is None

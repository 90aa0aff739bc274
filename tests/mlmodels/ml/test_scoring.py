import csv
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlmodels.ml.errors import InputError
from mlmodels.ml.schema import Feature, FeatureSchema, coerce_frame
from mlmodels.ml.scoring import (
    neutralise_formulas,
    predict_frame,
    records_from_predictions,
    score_csv,
)

FEATURES = [Feature("x", "numeric"), Feature("colour", "categorical")]


def build_pipeline(estimator) -> Pipeline:
    prepare = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), ["x"]),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(none)"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["colour"],
            ),
        ]
    )
    return Pipeline([("prepare", prepare), ("model", estimator)])


def training_frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": [f"{value:.3f}" for value in rng.normal(size=rows)],
            "colour": rng.choice(["red", "green", "blue"], size=rows),
        },
        dtype="str",
    )


@pytest.fixture(scope="module")
def classifier():
    raw = training_frame()
    coerced, _, _ = coerce_frame(raw, FEATURES)
    labels = np.where(coerced["x"] > 0, "=high", np.where(coerced["colour"] == "red", "low", "mid"))
    # Schema order differs from sklearn's sorted classes_: columns must follow the schema.
    schema = FeatureSchema("label", "classification", FEATURES, classes=["mid", "low", "=high"])
    pipeline = build_pipeline(LogisticRegression(max_iter=500)).fit(coerced, labels)
    return pipeline, schema


@pytest.fixture(scope="module")
def regressor():
    raw = training_frame()
    coerced, _, _ = coerce_frame(raw, FEATURES)
    target = coerced["x"] * 3 + (coerced["colour"] == "red")
    pipeline = build_pipeline(LinearRegression()).fit(coerced, target)
    return pipeline, FeatureSchema("y", "regression", FEATURES)


def test_predict_frame_for_a_classifier(classifier):
    pipeline, schema = classifier
    coerced, _, _ = coerce_frame(training_frame(), FEATURES)
    predicted = predict_frame(pipeline, coerced, schema)
    assert list(predicted.columns) == [
        "prediction",
        "probability_mid",
        "probability_low",
        "probability_=high",
    ]
    probabilities = predicted.iloc[:, 1:].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert predicted["prediction"].tolist() == pipeline.predict(coerced).tolist()
    expected = pipeline.predict_proba(coerced)[:, list(pipeline.classes_).index("low")]
    assert np.allclose(predicted["probability_low"], expected)


def test_records_from_predictions(classifier, regressor):
    pipeline, schema = classifier
    coerced, _, _ = coerce_frame(training_frame(3), FEATURES)
    records = records_from_predictions(predict_frame(pipeline, coerced, schema), schema)
    assert len(records) == 3
    assert set(records[0]) == {"prediction", "probabilities"}
    assert list(records[0]["probabilities"]) == ["mid", "low", "=high"]
    assert sum(records[0]["probabilities"].values()) == pytest.approx(1.0)
    assert isinstance(records[0]["prediction"], str)
    json.dumps(records, allow_nan=False)

    pipeline, schema = regressor
    records = records_from_predictions(predict_frame(pipeline, coerced, schema), schema)
    assert set(records[0]) == {"prediction"} and isinstance(records[0]["prediction"], float)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("-cmd", "'-cmd"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-1.5", "-1.5"),
        ("+3", "+3"),
        ("-2e-5", "-2e-5"),
        ("-inf", "'-inf"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise_formulas(cell, expected):
    assert neutralise_formulas(pa.array([cell])).to_pylist() == [expected]
    assert neutralise_formulas(pd.Series([cell], dtype="str")).tolist() == [expected]
    assert neutralise_formulas(pd.Series([cell, 1, None], dtype=object)).tolist() == [
        expected,
        1,
        None,
    ]
    assert neutralise_formulas(np.array([cell], dtype=object)).tolist() == [expected]


def write_input(tmp_path, rows: list[list[str]]):
    path = tmp_path / "input.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def read_result(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_score_csv_writes_inputs_predictions_and_probabilities(tmp_path, classifier):
    pipeline, schema = classifier
    source = write_input(
        tmp_path,
        [
            ["id", "colour", "x", "note"],
            ["1", "red", "-1.5", "=HYPERLINK(1)"],
            ["2", "purple", "NA", "hello, world"],
            ["3", "blue", "2", "-cmd"],
            ["4", "", "0.5", "multi\nline"],
        ],
    )
    result = tmp_path / "result.csv"
    calls = []
    summary = score_csv(
        pipeline,
        schema,
        source,
        result,
        chunk_rows=3,
        progress=lambda done, total: calls.append((done, total)),
        total_rows=4,
    )
    assert summary.rows == 4
    assert 0 < summary.scoring_seconds <= summary.total_seconds
    assert calls == [(3, 4), (4, 4)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["input.csv", "result.csv"]

    output = read_result(result)
    assert list(output.columns) == [
        "id",
        "colour",
        "x",
        "note",
        "prediction",
        "probability_mid",
        "probability_low",
        "probability_=high",
    ]
    assert output["x"].tolist() == ["-1.5", "NA", "2", "0.5"]  # numbers untouched, raw text
    assert output["note"].tolist() == ["'=HYPERLINK(1)", "hello, world", "'-cmd", "multi\nline"]
    probabilities = output.iloc[:, 5:].astype(float).to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert output.loc[2, "prediction"] == "'=high"  # a class name is neutralised too


def test_chunked_scoring_matches_one_shot_prediction(tmp_path, classifier):
    pipeline, schema = classifier
    raw = training_frame(50)
    source = write_input(tmp_path, [list(raw.columns)] + raw.to_numpy().tolist())
    result = tmp_path / "result.csv"
    score_csv(pipeline, schema, source, result, chunk_rows=7)

    coerced, _, _ = coerce_frame(raw, FEATURES)
    expected = predict_frame(pipeline, coerced, schema)
    output = read_result(result)
    assert output["prediction"].tolist() == [
        "'" + value if value.startswith("=") else value for value in expected["prediction"]
    ]
    for column in expected.columns[1:]:
        assert np.array_equal(output[column].astype(float).to_numpy(), expected[column].to_numpy())


@pytest.mark.parametrize("threads", [2, 3])
def test_scoring_threads_write_the_same_file_in_the_same_order(tmp_path, classifier, threads):
    pipeline, schema = classifier
    raw = training_frame(50)
    source = write_input(tmp_path, [list(raw.columns)] + raw.to_numpy().tolist())
    alone, side_by_side = tmp_path / "alone.csv", tmp_path / "side_by_side.csv"
    calls = []
    score_csv(pipeline, schema, source, alone, chunk_rows=7)
    summary = score_csv(
        pipeline,
        schema,
        source,
        side_by_side,
        chunk_rows=7 * threads,
        threads=threads,
        progress=lambda done, total: calls.append(done),
    )
    assert side_by_side.read_bytes() == alone.read_bytes()
    assert summary.rows == 50 and calls == list(range(7, 50, 7)) + [50]
    assert 0 < summary.scoring_seconds <= summary.total_seconds  # chunks side by side count once


def test_with_threads_a_bad_value_is_reported_at_its_own_row(tmp_path, classifier):
    pipeline, schema = classifier
    raw = training_frame(30)
    raw.loc[22, "x"] = "oops"
    source = write_input(tmp_path, [list(raw.columns)] + raw.to_numpy().tolist())
    with pytest.raises(InputError, match="1 value cannot be read") as caught:
        score_csv(pipeline, schema, source, tmp_path / "result.csv", chunk_rows=10, threads=2)
    assert caught.value.errors == {"file": ["row 23, column 'x': 'oops' is not a number"]}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["input.csv"]


def test_score_csv_for_a_regressor(tmp_path, regressor):
    pipeline, schema = regressor
    source = write_input(tmp_path, [["x", "colour"], ["1", "red"], ["2", "blue"]])
    result = tmp_path / "result.csv"
    score_csv(pipeline, schema, source, result)
    output = pd.read_csv(result)
    assert list(output.columns) == ["x", "colour", "prediction"]
    coerced, _, _ = coerce_frame(pd.DataFrame({"x": ["1", "2"], "colour": ["red", "blue"]}), FEATURES)
    assert np.allclose(output["prediction"], pipeline.predict(coerced))


def test_our_columns_do_not_overwrite_the_users(tmp_path, regressor):
    pipeline, schema = regressor
    source = write_input(tmp_path, [["x", "colour", "prediction"], ["1", "red", "old"]])
    result = tmp_path / "result.csv"
    score_csv(pipeline, schema, source, result)
    output = read_result(result)
    assert list(output.columns) == ["x", "colour", "prediction", "prediction_2"]
    assert output["prediction"].tolist() == ["old"]


def test_a_failed_run_leaves_no_result(tmp_path, classifier):
    pipeline, schema = classifier
    source = write_input(tmp_path, [["x", "colour"], ["1", "red"], ["oops", "red"]])
    result = tmp_path / "result.csv"
    with pytest.raises(InputError, match="1 value cannot be read"):
        score_csv(pipeline, schema, source, result)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["input.csv"]


def test_a_semicolon_file_with_a_bom_gives_a_plain_comma_result(tmp_path, regressor):
    pipeline, schema = regressor
    source = tmp_path / "input.csv"
    source.write_bytes("\ufeffcolour;x\r\nred;1,5\r\nblue;2".replace("1,5", "1.5").encode())
    result = tmp_path / "result.csv"
    assert score_csv(pipeline, schema, source, result).rows == 2
    lines = result.read_text().splitlines()
    assert lines[0] == "colour,x,prediction"
    assert lines[1].startswith("red,1.5,")

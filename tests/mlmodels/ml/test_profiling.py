import json

import pandas as pd
import pytest

from mlmodels.ml.csvio import ColumnInfo, read_table
from mlmodels.ml.profiling import profile_table


@pytest.fixture
def profile(tmp_path):
    content = (
        "age,income,city,member,constant,blank\n"
        "20,200,Paris,yes,1,\n"
        "30,NA,Paris,no,1,\n"
        "?,300,Rome,yes,1,NA\n"
        "40,400,Oslo,,1,\n"
        "50,500,Paris,yes,1,\n"
    )
    path = tmp_path / "data.csv"
    path.write_text(content)
    table = read_table(path, max_rows=100, max_columns=10)
    result = profile_table(table.frame, table.columns, max_categories=2, bins=4)
    return {column["name"]: column for column in result["columns"]}, result


def test_it_is_strict_json(profile):
    _, result = profile
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["rows"] == 5


def test_numeric_statistics(profile):
    columns, _ = profile
    age = columns["age"]
    assert age["kind"] == "numeric"
    assert (age["missing"], age["missing_pct"], age["unique"]) == (1, 20.0, 4)
    assert (age["min"], age["median"], age["max"], age["mean"]) == (20.0, 35.0, 50.0, 35.0)
    assert age["q25"] == 27.5 and age["q75"] == 42.5
    assert age["std"] == pytest.approx(pd.Series([20, 30, 40, 50]).std())
    assert len(age["histogram"]["edges"]) == 5
    assert sum(age["histogram"]["counts"]) == 4  # the present values


def test_categorical_top_values(profile):
    columns, _ = profile
    city = columns["city"]
    assert city["top"] == [{"value": "Paris", "count": 3}, {"value": "Oslo", "count": 1}]
    assert city["other_count"] == 1
    assert city["unique"] == 3
    member = columns["member"]
    assert member["kind"] == "boolean"
    assert member["missing"] == 1
    assert member["top"] == [{"value": "true", "count": 3}, {"value": "false", "count": 1}]


def test_correlations(profile):
    columns, result = profile
    correlations = result["correlations"]
    # the constant column has no correlation and is left out
    assert correlations["columns"] == ["age", "income"]
    matrix = correlations["matrix"]
    assert matrix[0][0] == pytest.approx(1.0)
    assert matrix[1][1] == pytest.approx(1.0)
    assert matrix[0][1] == pytest.approx(1.0)  # income = 10 * age on the shared rows
    assert columns["constant"]["std"] == 0.0


def test_a_column_without_values(profile):
    # Numeric, like training reads it (schema.infer_kind): an empty numeric column.
    columns, _ = profile
    blank = columns["blank"]
    assert blank["kind"] == "numeric"
    assert (blank["missing"], blank["missing_pct"], blank["unique"]) == (5, 100.0, 0)
    assert blank["mean"] is None and blank["histogram"] == {"edges": [], "counts": []}


def test_an_all_missing_numeric_column_has_no_statistics():
    frame = pd.DataFrame({"x": pd.Series(["NA", ""], dtype="str")})
    result = profile_table(frame, [ColumnInfo("x", "numeric", 2)])
    column = result["columns"][0]
    assert column["mean"] is None and column["std"] is None
    assert column["histogram"] == {"edges": [], "counts": []}
    json.dumps(result, allow_nan=False)


def test_values_that_do_not_fit_a_changed_kind_are_counted_as_invalid():
    frame = pd.DataFrame({"x": pd.Series(["1", "abc", "NA", "3"], dtype="str")})
    column = profile_table(frame, [ColumnInfo("x", "numeric", 1)])["columns"][0]
    assert (column["missing"], column["invalid"]) == (1, 1)
    assert column["mean"] == 2.0

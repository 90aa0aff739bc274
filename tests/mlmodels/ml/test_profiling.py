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


def _titanic_like(rows: int = 100) -> tuple[pd.DataFrame, list[ColumnInfo]]:
    """Shaped like the data people try first: an id, a class 1-3, a name, a fare, a
    fare in another currency, a mostly empty cabin, a rare outcome."""
    passenger = list(range(1, rows + 1))
    frame = pd.DataFrame(
        {
            "PassengerId": [str(value) for value in passenger],
            "Pclass": [str(1 + value % 3) for value in passenger],
            "Name": [f"Passenger number {value}, travelling alone" for value in passenger],
            "Fare": [f"{7.25 + 1.37 * value:.2f}" for value in passenger],
            "FareEuro": [f"{(7.25 + 1.37 * value) * 0.9:.2f}" for value in passenger],
            "Cabin": ["C85" if value % 4 == 0 else "" for value in passenger],
            "Deck": ["A"] * rows,
            "Survived": ["1" if value % 20 == 0 else "0" for value in passenger],
        }
    )
    kinds = {"Name": "categorical", "Cabin": "categorical", "Deck": "categorical"}
    return frame, [ColumnInfo(name, kinds.get(name, "numeric"), 0) for name in frame.columns]


def test_a_numeric_column_with_few_values_gets_one_bar_per_value():
    frame, columns = _titanic_like()
    profile = {column["name"]: column for column in profile_table(frame, columns)["columns"]}

    assert profile["Pclass"]["chart"] == "values"
    assert profile["Pclass"]["values"] == [
        {"value": 1.0, "count": 33},
        {"value": 2.0, "count": 34},
        {"value": 3.0, "count": 33},
    ]
    assert profile["Fare"]["chart"] == "histogram" and "values" not in profile["Fare"]


def test_ids_and_free_text_get_no_chart_but_an_alert():
    frame, columns = _titanic_like()
    result = profile_table(frame, columns)
    profile = {column["name"]: column for column in result["columns"]}
    alerts = {(alert["kind"], tuple(alert["columns"])) for alert in result["alerts"]}

    assert (profile["PassengerId"]["role"], profile["PassengerId"]["chart"]) == ("id", "none")
    assert (profile["Name"]["role"], profile["Name"]["chart"]) == ("text", "none")
    assert ("id_like", ("PassengerId",)) in alerts
    assert ("free_text", ("Name",)) in alerts


def test_the_alerts_name_missing_constant_correlated_and_imbalanced_columns():
    frame, columns = _titanic_like()
    result = profile_table(frame, columns)
    alerts = {(alert["kind"], tuple(alert["columns"])): alert["message"] for alert in result["alerts"]}

    assert alerts[("missing", ("Cabin",))] == "Cabin: 75% of the values are missing."
    assert ("constant", ("Deck",)) in alerts
    assert "+1.00" in alerts[("correlated", ("Fare", "FareEuro"))]
    assert "Survived is imbalanced: 1 is only 5.0% of the rows" in alerts[("imbalanced", ("Survived",))]
    assert not any(kind == "imbalanced" and columns == ("Pclass",) for kind, columns in alerts)
    json.dumps(result, allow_nan=False)

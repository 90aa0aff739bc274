import gzip

import numpy as np
import pandas as pd
import pytest

from mlmodels.ml.errors import InputError, TooManyRowsError
from mlmodels.ml.inputs import frame_from_records, validate_csv, validate_frame, validate_records
from mlmodels.ml.schema import Feature, FeatureSchema

SCHEMA = FeatureSchema(
    target="label",
    task="classification",
    features=[
        Feature("age", "numeric"),
        Feature("city", "categorical", ["Paris", "Rome"]),
        Feature("member", "boolean"),
    ],
    classes=["no", "yes"],
)


def errors_of(caught: pytest.ExceptionInfo, field: str = "inputs") -> list[str]:
    assert list(caught.value.errors) == [field]
    return caught.value.errors[field]


# --- frame_from_records -------------------------------------------------------------------


def test_one_object_is_one_row():
    frame = frame_from_records({"age": 30, "city": "Paris"})
    assert frame.to_dict("records") == [{"age": 30, "city": "Paris"}]


def test_a_list_of_objects_with_missing_keys():
    frame = frame_from_records([{"age": 30}, {"city": "Rome", "member": True}, {"age": None}])
    assert list(frame.columns) == ["age", "city", "member"]
    assert len(frame) == 3
    assert frame["age"].isna().tolist() == [False, True, True]


def test_an_empty_list_is_refused():
    with pytest.raises(InputError, match="empty list") as caught:
        frame_from_records([])
    assert errors_of(caught)


@pytest.mark.parametrize("inputs", ["age=3", 42, None])
def test_inputs_must_be_objects(inputs):
    with pytest.raises(InputError, match="an object or a list of objects"):
        frame_from_records(inputs)


def test_non_object_items_are_named_by_index():
    with pytest.raises(InputError) as caught:
        frame_from_records([{"age": 1}, "oops", [1, 2]])
    assert errors_of(caught) == [
        "row 2 (inputs[1]) is str, not an object",
        "row 3 (inputs[2]) is a list, not an object",
    ]


def test_nested_values_are_named_by_row_and_column():
    with pytest.raises(InputError) as caught:
        frame_from_records([{"age": 1}, {"age": {"years": 3}, "city": ["Paris"]}])
    assert errors_of(caught) == [
        "row 2, column 'age': an object is not a value (use a string, number, boolean or null)",
        "row 2, column 'city': a list is not a value (use a string, number, boolean or null)",
    ]


# --- validate_frame -----------------------------------------------------------------------


def test_a_valid_frame_is_coerced_in_schema_order():
    frame = frame_from_records(
        [
            {"member": "yes", "city": "Paris", "age": "31", "note": "x"},
            {"member": False, "city": "Berlin", "age": 40.0, "other": 1},
        ]
    )
    result = validate_frame(frame, SCHEMA, max_rows=10)
    assert result.rows == 2
    assert list(result.frame.columns) == ["age", "city", "member"]
    assert result.frame["age"].tolist() == [31.0, 40.0]
    assert result.frame["city"].tolist() == ["Paris", "Berlin"]  # unseen category accepted
    assert result.frame["member"].tolist() == ["true", "false"]
    assert result.extra_columns == ["note", "other"]


def test_no_rows():
    with pytest.raises(InputError, match="no rows"):
        validate_frame(pd.DataFrame({"age": []}), SCHEMA, max_rows=10)


def test_too_many_rows_mentions_the_limit():
    frame = pd.DataFrame({"age": [1] * 6, "city": "a", "member": "y"})
    with pytest.raises(TooManyRowsError, match="the limit is 5") as caught:
        validate_frame(frame, SCHEMA, max_rows=5)
    assert isinstance(caught.value, InputError)


def test_all_missing_columns_are_listed():
    with pytest.raises(InputError) as caught:
        validate_frame(pd.DataFrame({"city": ["Paris"]}), SCHEMA, max_rows=10)
    assert errors_of(caught) == ["missing columns the model needs: 'age', 'member'"]


def test_columns_that_differ_only_in_spelling_are_pointed_out():
    with pytest.raises(InputError) as caught:
        validate_records({"Age": 3, "city": "Paris", "Member ": "yes"}, SCHEMA, max_rows=10)
    assert errors_of(caught) == [
        "missing columns the model needs: 'age', 'member'",
        "the input has 'Age': did you mean 'age'? Names must match exactly",
        "the input has 'Member ': did you mean 'member'? Names must match exactly",
    ]


def test_the_first_twenty_bad_values_and_a_count():
    ages = ["x"] * 23 + ["1"]
    frame = pd.DataFrame({"age": ages, "city": "Paris", "member": "yes"})
    frame.loc[0, "member"] = "maybe"
    with pytest.raises(InputError) as caught:
        validate_frame(frame, SCHEMA, max_rows=100, row_offset=1000)
    messages = errors_of(caught)
    assert len(messages) == 21
    assert messages[0] == "row 1001, column 'age': 'x' is not a number"
    assert messages[1] == "row 1001, column 'member': 'maybe' is not true or false"
    assert messages[2] == "row 1002, column 'age': 'x' is not a number"
    assert messages[-1] == "... and 4 more"
    assert caught.value.message == "24 values cannot be read as the column's type"


def test_a_json_boolean_in_a_numeric_column_is_quoted_as_json_spells_it():
    with pytest.raises(InputError) as caught:
        validate_records([{"age": True, "city": "Paris", "member": "yes"}], SCHEMA, max_rows=10)
    assert errors_of(caught) == ["row 1, column 'age': 'true' is not a number"]


def test_missing_tokens_are_not_bad_values():
    frame = pd.DataFrame({"age": ["NA", "?", None, np.nan], "city": None, "member": ""})
    result = validate_frame(frame, SCHEMA, max_rows=10)
    assert result.frame["age"].isna().all()


# --- validate_csv -------------------------------------------------------------------------


def write(tmp_path, content: str | bytes):
    path = tmp_path / "input.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_a_valid_csv(tmp_path):
    path = write(tmp_path, "\ufeffid;age;city;member\r\n1;30;Oslo;y\r\n\r\n2;NA;;n")
    summary = validate_csv(path, SCHEMA, max_rows=10)
    assert (summary.rows, summary.extra_columns) == (2, ["id"])
    assert summary.format.delimiter == ";"


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_bad_values_are_numbered_across_chunks(tmp_path, threads):
    rows = [f"{'bad' if i in (2, 7, 8) else i},Paris,yes" for i in range(1, 11)]
    path = write(tmp_path, "age,city,member\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as caught:
        validate_csv(path, SCHEMA, max_rows=100, chunk_rows=3, threads=threads)
    assert errors_of(caught, "file") == [
        "row 2, column 'age': 'bad' is not a number",
        "row 7, column 'age': 'bad' is not a number",
        "row 8, column 'age': 'bad' is not a number",
    ]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_only_twenty_bad_values_are_listed_across_chunks(tmp_path, threads):
    path = write(tmp_path, "age,city,member\n" + "x,a,y\n" * 45)
    with pytest.raises(InputError) as caught:
        validate_csv(path, SCHEMA, max_rows=100, chunk_rows=7, threads=threads)
    messages = errors_of(caught, "file")
    assert len(messages) == 21
    assert messages[19] == "row 20, column 'age': 'x' is not a number"
    assert messages[20] == "... and 25 more"


def test_missing_columns_are_found_in_the_header(tmp_path):
    path = write(tmp_path, "city,extra\nParis,1\n")
    with pytest.raises(InputError) as caught:
        validate_csv(path, SCHEMA, max_rows=10)
    assert errors_of(caught, "file") == [
        "missing columns the model needs: 'age', 'member'",
        "columns in the input that the model does not use: 'extra'",
    ]


@pytest.mark.parametrize("threads", [1, 2])
def test_too_many_rows_in_a_file(tmp_path, threads):
    path = write(tmp_path, "age,city,member\n" + "1,a,y\n" * 12)
    with pytest.raises(TooManyRowsError, match="limit is 10"):
        validate_csv(path, SCHEMA, max_rows=10, chunk_rows=5, threads=threads)
    assert validate_csv(path, SCHEMA, max_rows=12, chunk_rows=5, threads=threads).rows == 12


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "empty"),
        ("age,city,member\n", "no rows"),
        (gzip.compress(b"age,city,member\n1,a,y\n"), "gzip"),
        ("age,city,member\n1,a,y\n2,b\n", "line 3 has 2 fields, expected 3"),
        ("age,age,city,member\n1,1,a,y\n", "duplicate column names"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, content, words):
    with pytest.raises(InputError, match=words) as caught:
        validate_csv(write(tmp_path, content), SCHEMA, max_rows=10)
    assert errors_of(caught, "file")


# --- One coercion, whatever the column's storage ------------------------------------------

ODD_VALUES = ["1", " 2 ", "-1.5", "+3", "1e3", "inf", "NaN", " na ", "?", "--", "-", "", "x"]
ODD_VALUES += ["yes", "No", "T", "f", "0", "TRUE", "1_0", "٣", "None", "#N/A", None]


# Every cell a number as written, or empty, absent or spelled nan/inf: the one-parse path.
AS_WRITTEN = ["1", "-1.5", "+3", "1e3", "1E5", ".5", "5.", "-0", "", None, "nan", "NAN", "-nan"]
AS_WRITTEN += ["inf", "-inf", "+inf", "Infinity", "1e400", "0.0000001"]


@pytest.mark.parametrize("values", [ODD_VALUES, AS_WRITTEN], ids=["odd values", "numbers as written"])
@pytest.mark.parametrize("kind", ["numeric", "boolean", "categorical"])
def test_arrow_text_and_python_text_coerce_alike(kind, values):
    # CSV columns arrive as Arrow-backed text and take schema.py's fast path; JSON
    # columns are Python objects. Both must give the same values and problems.
    from mlmodels.ml.schema import coerce_column

    fast_values, fast_bad = coerce_column(pd.Series(values, dtype="str"), kind)
    slow_values, slow_bad = coerce_column(pd.Series(values, dtype=object), kind)
    assert fast_bad.tolist() == slow_bad.tolist()
    assert fast_values.dtype == slow_values.dtype
    assert fast_values.isna().tolist() == slow_values.isna().tolist()
    assert fast_values.dropna().tolist() == slow_values.dropna().tolist()
    if kind == "numeric" and values is AS_WRITTEN:
        assert fast_bad.sum() == 6  # inf (three spellings), Infinity, 1e400, -nan


def test_json_values_are_spelled_like_csv_text():
    schema = FeatureSchema("y", "regression", [Feature("code", "categorical")])
    frame = frame_from_records([{"code": 1.0}, {"code": "B"}, {"code": True}, {"code": 7}])
    result = validate_frame(frame, schema, max_rows=10)
    assert result.frame["code"].tolist() == ["1", "B", "true", "7"]

"""MLflow's scoring protocol read into JSON records, the one parser of its input shapes.

``POST models/{id}/invocations`` takes what ``mlflow models serve`` takes:

- ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}`` (``index`` ignored),
- ``{"dataframe_records": [{column: value}, ...]}``,
- ``{"instances": ...}`` or ``{"inputs": ...}``: a list of objects, one object of
  columns (``{column: [values]}``), or a list of rows without names,
- a ``text/csv`` body with a header row,

plus ``params`` in the JSON ones. ``POST predictions/`` takes the same plain rows,
``{"columns": [...], "data": [[...]]}``, through ``records_from_columns``. Rows without
column names follow the feature schema's order. Everything ends as the records the
prediction service checks and coerces (``inputs.validate_records``), so a value means
the same whatever shape carried it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError, TooManyRowsError

SHAPES = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = "params"


@dataclass
class ScoringRequest:
    records: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)


def _fail(message: str, field_name: str) -> InputError:
    return InputError(message, {field_name: [message]})


def _check_rows(rows: Any, width: int, field_name: str) -> list[list[Any]]:
    if not isinstance(rows, list):
        raise _fail("data must be a list of rows (lists of values)", field_name)
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            raise _fail(f"row {index + 1} ({field_name}[{index}]) is not a list of values", field_name)
        if len(row) != width:
            raise _fail(
                f"row {index + 1} ({field_name}[{index}]) has {len(row)} values; there are {width} columns",
                field_name,
            )
    return rows


def records_from_columns(columns: Any, data: Any, *, field_name: str = "data") -> list[dict[str, Any]]:
    """``{"columns": [...], "data": [[...], ...]}`` as records; each row must have one
    value per column. Column names are strings, each once."""
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise _fail("columns must be a list of column names (strings)", "columns")
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise _fail("columns names a column twice: " + ", ".join(map(repr, duplicated)), "columns")
    rows = _check_rows(data, len(columns), field_name)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _rows_in_schema_order(rows: Any, feature_names: list[str], field_name: str) -> list[dict[str, Any]]:
    return records_from_columns(feature_names, rows, field_name=field_name)


def _columnar(columns: dict[str, Any], field_name: str) -> list[dict[str, Any]]:
    lengths = {len(values) for values in columns.values() if isinstance(values, list)}
    if len(lengths) != 1 or any(not isinstance(values, list) for values in columns.values()):
        raise _fail(
            "an object of columns needs a list of values per column, all of the same length", field_name
        )
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _instances(value: Any, feature_names: list[str], field_name: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        if value and all(isinstance(values, list) for values in value.values()):
            return _columnar(value, field_name)
        return [value]
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return _rows_in_schema_order(value, feature_names, field_name)
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return value
    raise _fail(
        f"{field_name} must be a list of objects, an object of columns, or a list of rows "
        f"(values in this order: {', '.join(feature_names)})",
        field_name,
    )


def request_from_json(body: Any, *, feature_names: list[str]) -> ScoringRequest:
    """One of MLflow's JSON shapes (and optional ``params``) as records."""
    if not isinstance(body, dict):
        raise _fail("the body must be a JSON object with one of: " + ", ".join(SHAPES), "non_field_errors")
    shapes = [name for name in SHAPES if name in body]
    unknown = sorted(set(body) - set(SHAPES) - {PARAMS})
    if len(shapes) != 1 or unknown:
        found = ", ".join(map(repr, body)) or "nothing"
        raise _fail(
            f"send exactly one of {', '.join(SHAPES)} (and optionally params); found {found}",
            "non_field_errors",
        )
    shape = shapes[0]
    params = body.get(PARAMS) or {}
    if not isinstance(params, dict):
        raise _fail("params must be an object", PARAMS)
    value = body[shape]
    if shape == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise _fail('dataframe_split must be an object with "columns" and "data"', shape)
        unexpected = sorted(set(value) - {"columns", "data", "index"})
        if unexpected:
            raise _fail(f"dataframe_split has unknown keys: {', '.join(unexpected)}", shape)
        if "columns" not in value:
            return ScoringRequest(_rows_in_schema_order(value["data"], feature_names, shape), params)
        return ScoringRequest(records_from_columns(value["columns"], value["data"], field_name=shape), params)
    if shape == "dataframe_records":
        if not isinstance(value, list):
            raise _fail("dataframe_records must be a list of objects", shape)
        return ScoringRequest(value, params)
    return ScoringRequest(_instances(value, feature_names, shape), params)


def records_from_csv(body: bytes, *, max_rows: int) -> list[dict[str, Any]]:
    """A ``text/csv`` body (UTF-8, comma separated, a header row) as records of text,
    as a CSV file is read: the prediction's coercion gives each value its kind."""
    field_name = "body"
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _fail(f"the CSV is not UTF-8 (byte {error.start + 1})", field_name) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(name.strip() for name in header):
            raise _fail("the CSV is empty: it needs a header row and rows", field_name)
        names = [name.strip() for name in header]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise _fail("the header names a column twice: " + ", ".join(map(repr, duplicated)), field_name)
        records = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(records) >= max_rows:
                message = f"the CSV has more than {max_rows:,} rows; the limit is {max_rows:,}"
                raise TooManyRowsError(message, {field_name: [message]})
            if len(row) != len(names):
                raise _fail(
                    f"line {reader.line_num} has {len(row)} values; the header has {len(names)}", field_name
                )
            records.append(dict(zip(names, row, strict=True)))
    except csv.Error as error:
        raise _fail(f"the CSV cannot be read: {error}", field_name) from None
    return records

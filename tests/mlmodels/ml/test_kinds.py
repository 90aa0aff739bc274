"""A column's kind is decided by one rule (``schema.infer_kind``): the kind the dataset
page shows (csvio) is the kind a model is trained with (preprocessing)."""

from __future__ import annotations

import pandas as pd
import pytest

from mlmodels.ml import csvio, preprocessing, schema
from mlmodels.ml.csvio import read_table
from mlmodels.ml.preprocessing import select_features

COLUMNS = {
    "empty": ["", "NA", "?", "", "--", ""],
    "number": ["1.5", "NA", " -2e3 ", "4", "", "7"],
    "zero_one": ["0", "1", "1", "0", "", "1"],
    "yes_no": ["yes", "No", "Y", "f", "", "TRUE"],
    "yes_no_and_digits": ["yes", "no", "1", "0", "", "yes"],
    "city": ["Paris", "Rome", "?", "Oslo", "", "Rome"],
    "infinity": ["1", "inf", "2", "3", "", "4"],
}
EXPECTED = {
    "empty": "numeric",
    "number": "numeric",
    "zero_one": "numeric",
    "yes_no": "boolean",
    "yes_no_and_digits": "boolean",
    "city": "categorical",
    "infinity": "categorical",
}


@pytest.fixture
def raw_csv(tmp_path):
    frame = pd.DataFrame({**COLUMNS, "label": list("ababab")})
    path = tmp_path / "kinds.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_dataset_and_training_give_every_column_the_same_kind(raw_csv):
    table = read_table(raw_csv, max_rows=100, max_columns=20)
    dataset_kinds = {column.name: column.kind for column in table.columns if column.name != "label"}
    features, _ = select_features(table.frame, "label", requested_features=list(COLUMNS))
    training_kinds = {feature.name: feature.kind for feature in features}
    assert dataset_kinds == training_kinds == EXPECTED


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_one_rule_for_plain_and_arrow_text(name):
    plain = pd.Series(COLUMNS[name], dtype=object)
    arrow = pd.Series(COLUMNS[name], dtype="str")
    assert schema.infer_kind(plain) == schema.infer_kind(arrow) == EXPECTED[name]


def test_both_modules_use_the_one_function():
    assert csvio.infer_kind is preprocessing.infer_kind is schema.infer_kind


def test_a_non_number_after_the_sampled_rows_still_decides(tmp_path):
    column = pd.Series(["1"] * 1500 + ["x"], dtype="str")
    assert schema.infer_kind(column) == "categorical"
    assert schema.infer_kind(pd.Series(["yes"] * 1500 + ["maybe"], dtype="str")) == "categorical"

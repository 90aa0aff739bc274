"""The scalar coercion of JSON records (one-row predictions) must read every value
exactly as ``coerce_frame`` does, or a model would score something else than the same
row sent as a CSV. Generated records mix the spellings JSON clients send."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mlmodels.ml.errors import InputError
from mlmodels.ml.inputs import validate_frame, validate_records
from mlmodels.ml.schema import Feature, FeatureSchema, coerce_frame, coerce_records

TRICKY_TEXT = [
    "",
    " ",
    "NA",
    "n/a",
    "NULL",
    " None ",
    "?",
    "--",
    "-",
    "#N/A",
    "Missing",
    "nan",
    "0",
    "1",
    "2",
    "-0",
    "+1",
    "1.",
    ".5",
    "+.5",
    "-.5e-3",
    "1E5",
    "1.5e+3",
    "00012",
    " 7 ",
    "\t8\n",
    "1e999",
    "1e-400",
    "1_0",
    "0x10",
    "1e",
    "+-1",
    "inf",
    "-Infinity",
    "\u0663",
    "\uff11",
    "\xa05\xa0",
    "\x1c3",
    "true",
    " YES ",
    "f",
    "N",
    "T",
    "no",
    "red",
    " Blue ",
    "ultraviolet",
    "\u00e9t\u00e9",
    "=1+1",
]

# Mostly values the scalar path decides (a case with one undecided value compares
# nothing), with the rarer shapes mixed in.
values = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, 2, -3, 2**53, -(2**53) - 1]),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 2.5, 1e16, 1e-05, float("nan")]),
    st.sampled_from(TRICKY_TEXT),
    st.sampled_from(TRICKY_TEXT),
    st.sampled_from(TRICKY_TEXT),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
)
KINDS = ("numeric", "categorical", "boolean")
NAMES = ("a", "b", "c")


@st.composite
def records_and_features(draw):
    features = [Feature(name, draw(st.sampled_from(KINDS))) for name in NAMES]
    records = draw(
        st.lists(
            st.dictionaries(st.sampled_from(NAMES), values, min_size=0, max_size=3),
            min_size=1,
            max_size=3,
        )
    )
    return records, features


def _plain_rows(frame: pd.DataFrame) -> list[list]:
    return [
        [
            None if value is None or (isinstance(value, float) and math.isnan(value)) else value
            for value in row
        ]
        for row in frame.astype(object).itertuples(index=False, name=None)
    ]


def _same(left: list[list], right: list[list]) -> bool:
    # -0.0 == 0.0: the same number for every model (pandas itself spells "-0" both ways).
    return left == right and all(
        type(a) is type(b)
        for row_a, row_b in zip(left, right, strict=True)
        for a, b in zip(row_a, row_b, strict=True)
    )


@settings(max_examples=1500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(records_and_features())
@example(
    (
        [{"a": " 3e2 ", "b": 1.0, "c": "yes"}],
        [Feature("a", "numeric"), Feature("b", "categorical"), Feature("c", "boolean")],
    )
)
def test_scalar_coercion_agrees_with_coerce_frame(case):
    records, features = case
    scalar = coerce_records(records, features)
    if scalar is None:
        return  # left to coerce_frame: nothing to compare
    frame = pd.DataFrame.from_records(records)
    assume(len(frame) == len(records))  # [{}] has no rows for pandas (a missing-columns error here)
    for feature in features:
        if feature.name not in frame.columns:
            frame[feature.name] = None
    coerced, problems, total = coerce_frame(frame, features)
    assert total == 0, f"the scalar path accepted what coerce_frame refuses: {problems}"
    assert _same(scalar, _plain_rows(coerced)), (scalar, _plain_rows(coerced))


SAMPLE_VALUES = [
    None,
    True,
    False,
    0,
    1,
    2,
    -3,
    2**53 - 1,
    2**53,
    -(2**53) - 1,
    2**70,
    0.0,
    -0.0,
    1.0,
    0.5,
    2.5,
    1e16,
    1e-05,
    float("nan"),
    float("inf"),
    *TRICKY_TEXT,
]
# Another value in the same column changes how pandas holds it (int64, float64, Arrow
# text or Python objects), and so which branch of coerce_column reads it.
PARTNERS = [None, 7, 2.5, "x", True]


def _check_one_column(column: list, kind: str) -> None:
    records = [{"v": value} for value in column]
    features = [Feature("v", kind)]
    scalar = coerce_records(records, features)
    if scalar is None:
        return
    coerced, problems, total = coerce_frame(pd.DataFrame.from_records(records), features)
    assert total == 0, f"{column!r} as {kind}: the scalar path accepted what coerce_frame refuses"
    assert _same(scalar, _plain_rows(coerced)), (column, kind, scalar, _plain_rows(coerced))


@pytest.mark.parametrize("kind", KINDS)
def test_every_sample_value_reads_as_coerce_frame_reads_it(kind):
    for value in SAMPLE_VALUES:
        _check_one_column([value], kind)
        for partner in PARTNERS:
            _check_one_column([value, partner], kind)


def test_ordinary_rows_take_the_scalar_path():
    features = [Feature("age", "numeric"), Feature("city", "categorical"), Feature("member", "boolean")]
    records = [
        {"age": 41, "city": "Paris", "member": True},
        {"age": "38.5", "city": " Rome ", "member": "no"},
        {"age": None, "city": "NA", "member": None},
        {"city": 75, "member": 1},
    ]
    assert coerce_records(records, features) == [
        [41.0, "Paris", "true"],
        [38.5, "Rome", "false"],
        [None, None, None],
        [None, "75", "true"],
    ]


@pytest.mark.parametrize("value", [True, "abc", "1_0", "1e999", float("inf"), 2**53, "\xa05", "\u0663"])
def test_values_needing_judgement_are_left_to_coerce_frame(value):
    assert coerce_records([{"x": value}], [Feature("x", "numeric")]) is None


SCHEMA = FeatureSchema(
    target="y",
    task="classification",
    features=[Feature("age", "numeric"), Feature("member", "boolean")],
    classes=["no", "yes"],
)


@pytest.mark.parametrize(
    "inputs",
    [
        [{"age": "old", "member": "maybe"}, {"age": True, "member": 3}],
        [{"member": True}],
        [{"age": 1, "member": True}] * 11,
    ],
)
def test_validate_records_refuses_as_validate_frame_does(inputs):
    with pytest.raises(InputError) as by_frame:
        validate_frame(pd.DataFrame.from_records(inputs), SCHEMA, max_rows=10)
    with pytest.raises(InputError) as by_records:
        validate_records(inputs, SCHEMA, max_rows=10)

    assert type(by_records.value) is type(by_frame.value)
    assert by_records.value.message == by_frame.value.message
    assert by_records.value.errors == by_frame.value.errors


def test_validate_records_reports_columns_in_the_order_they_first_appear():
    checked = validate_records(
        [{"member": "yes", "zip": "75001", "age": 3}, {"age": 4, "member": "no", "note": "x"}],
        SCHEMA,
        max_rows=10,
    )
    assert checked.columns == ["member", "zip", "age", "note"]
    assert checked.extra_columns == ["zip", "note"]
    assert checked.coerced == [[3.0, "true"], [4.0, "false"]]

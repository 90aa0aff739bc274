"""The coerced JSON input kept with a job must turn back into exactly the frame the
engine's coercion returns, or the worker would score something else than was checked."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlmodels.ml import inputs
from mlmodels.ml.inputs import frame_from_records, validate_frame, validate_records
from mlmodels.ml.schema import Feature, FeatureSchema
from mlmodels.ml.scoring import predict_frame
from predictions.coerced import coerced_from_json, coerced_to_json

SCHEMA = FeatureSchema(
    target="label",
    task="classification",
    features=[
        Feature("age", "numeric"),
        Feature("income", "numeric"),
        Feature("color", "categorical", ["blue", "green", "red"]),
        Feature("member", "boolean", ["false", "true"]),
    ],
    classes=["no", "yes"],
)

RECORDS = [
    {"age": 61, "income": 72.5, "color": "red", "member": True},
    {"age": "19", "income": " 3e2 ", "color": " blue ", "member": "yes"},
    {"age": None, "income": "", "color": "NA", "member": "?"},
    {"age": 1.0, "income": -0.0, "color": 1.0, "member": 0, "extra": "x"},
    {"age": "1000", "color": "ultraviolet", "member": "FALSE"},
]


def coerced(records) -> pd.DataFrame:
    return validate_frame(frame_from_records(records), SCHEMA, max_rows=100).frame


@pytest.mark.parametrize("path", ["scalar", "pandas"])
@pytest.mark.parametrize("records", [RECORDS, RECORDS[:1], RECORDS[2:3]])
def test_the_stored_values_give_back_the_coerced_frame(records, path, monkeypatch):
    if path == "pandas":
        monkeypatch.setattr(inputs, "SCALAR_RECORDS_LIMIT", 0)
    checked = validate_records(records, SCHEMA, max_rows=100)
    stored = json.loads(json.dumps(coerced_to_json(checked.coerced, SCHEMA)))  # as the database keeps it

    rebuilt = coerced_from_json(stored, SCHEMA)

    pd.testing.assert_frame_equal(rebuilt, coerced(records))


def test_the_rebuilt_frame_scores_the_same(classifier):
    from mlmodels.ml.artifacts import load_artifact

    model = load_artifact(_artifact_path(classifier), sha256=classifier.artifact_sha256)
    schema = model.feature_schema
    records = [{"age": 61, "income": 72.5, "color": "red", "member": True}, {"age": None, "color": "mauve"}]
    frame = validate_frame(frame_from_records(records), schema, max_rows=10).frame
    checked = validate_records(records, schema, max_rows=10)
    rebuilt = coerced_from_json(json.loads(json.dumps(coerced_to_json(checked.coerced, schema))), schema)

    pd.testing.assert_frame_equal(
        predict_frame(model.pipeline, rebuilt, schema), predict_frame(model.pipeline, frame, schema)
    )


def _artifact_path(model):
    from pathlib import Path

    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / model.artifact


@pytest.mark.parametrize(
    "stored",
    [
        None,
        {"features": [["age", "numeric"]], "rows": [[1.0]]},  # another schema
        {"features": [[f.name, f.kind] for f in SCHEMA.features], "rows": []},
        {"features": [[f.name, f.kind] for f in SCHEMA.features], "rows": [[1.0, 2.0]]},  # short row
    ],
)
def test_values_stored_for_another_schema_are_not_used(stored):
    assert coerced_from_json(stored, SCHEMA) is None

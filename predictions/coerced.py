"""JSON input as the schema's coercion left it, stored at submit and scored by the worker.

Submitting already coerces every value to check it (mlmodels.ml.inputs.validate_records);
coercing again in the worker costs as much CPU as the prediction itself for a one-row
job. So the coerced values are kept with the job and turned back into exactly the frame
``coerce_frame`` returns: float64 columns for numeric features, object columns holding
``str`` or NaN for categorical and boolean ones, a fresh RangeIndex, schema order.
tests/predictions/test_coerced.py checks the round trip against ``coerce_frame`` itself,
so a change in the engine's output shows up there. Anything that does not match the
model's schema exactly returns None, and the worker coerces the raw input instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from mlmodels.ml.schema import FeatureSchema


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def coerced_to_json(rows: list[list[Any]], schema: FeatureSchema) -> dict[str, Any]:
    """``ValidatedRecords.coerced`` (rows in schema order) as stored with the job."""
    return {
        "features": [[feature.name, feature.kind] for feature in schema.features],
        "rows": [[_plain(value) for value in row] for row in rows],
    }


def coerced_from_json(data: Any, schema: FeatureSchema) -> pd.DataFrame | None:
    """The coerced frame, or None when ``data`` was stored for another schema."""
    if not isinstance(data, dict):
        return None
    expected = [[feature.name, feature.kind] for feature in schema.features]
    rows = data.get("rows")
    if data.get("features") != expected or not isinstance(rows, list) or not rows:
        return None
    if any(not isinstance(row, list) or len(row) != len(expected) for row in rows):
        return None
    index = pd.RangeIndex(len(rows))
    columns: dict[str, pd.Series] = {}
    for position, feature in enumerate(schema.features):
        values = [row[position] for row in rows]
        if feature.kind == "numeric":
            columns[feature.name] = pd.Series(np.array(values, dtype="float64"), index=index)  # None: NaN
        else:
            # Explicitly object: pandas 3 would otherwise infer its own string dtype.
            values = [np.nan if value is None else value for value in values]
            columns[feature.name] = pd.Series(values, index=index, dtype=object)
    return pd.DataFrame(columns, index=index)

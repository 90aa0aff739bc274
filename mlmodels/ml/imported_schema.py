"""The feature schema of a model trained elsewhere: read from the JSON its owner sends
(names, kinds, categories, target, task, classes, sample rows), or inferred from a
sample CSV by the engine's own rules (``preprocessing.select_features``, the same
inference as training), and the sample rows the import is checked on. No Django here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .errors import InputError, ModelImportError, TrainingError
from .inputs import records_from_inputs
from .preprocessing import MAX_LISTED_CATEGORIES, select_features
from .schema import KINDS, TASKS, Feature, FeatureSchema

# Rows of a sample the import is checked on (the first ones); a sample CSV may hold
# no more than this many rows either.
MAX_SAMPLE_ROWS = 1000
MAX_NAME_LENGTH = 255
MAX_CLASSES = 100
SCHEMA_KEYS = ("target", "task", "features", "classes", "sample_rows")


@dataclass
class ImportSchema:
    """A schema that passed every check that needs no model, and the rows to check the
    model on (None: none were given yet)."""

    schema: FeatureSchema
    sample_rows: list[dict[str, Any]] | None


def _fail(problems: list[str], field: str = "schema") -> ModelImportError:
    return ModelImportError(f"The feature schema is not usable: {problems[0]}", {field: problems})


def _is_label(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int)) and not (isinstance(value, str) and not value.strip())


def schema_from_json(data: Any, *, max_features: int) -> ImportSchema:
    """Check the schema JSON an owner sent: ``features`` (a list of ``{name, kind,
    categories?}``), ``target``, ``task`` (or ``classes``, which imply classification),
    optional ``classes`` and ``sample_rows``. Raises ModelImportError (field ``schema``)
    naming every problem."""
    if not isinstance(data, dict):
        raise _fail(["it must be a JSON object with 'features', 'target' and 'task'"])
    problems: list[str] = []
    unknown = sorted(str(key) for key in data if key not in SCHEMA_KEYS)
    if unknown:
        problems.append(
            f"unknown key {', '.join(repr(key) for key in unknown)} (known: {', '.join(SCHEMA_KEYS)})"
        )

    target = data.get("target")
    if not isinstance(target, str) or not target.strip():
        problems.append("'target' must name the column the model predicts")
        target = ""
    target = target.strip()[:MAX_NAME_LENGTH]

    classes = data.get("classes")
    if classes is not None:
        if not isinstance(classes, list) or not all(_is_label(value) for value in classes):
            problems.append("'classes' must be a list of class labels (strings or numbers)")
            classes = None
        elif len(classes) < 2 or len(classes) > MAX_CLASSES:
            problems.append(f"'classes' must list from 2 to {MAX_CLASSES} classes")
            classes = None
        elif len({str(value) for value in classes}) != len(classes):
            problems.append("'classes' lists a class twice")
            classes = None

    task = data.get("task")
    if task is None and classes is not None:
        task = "classification"
    if task not in TASKS:
        problems.append("'task' must be 'classification' or 'regression'")
    elif task == "regression" and data.get("classes") is not None:
        problems.append("a regression model has no 'classes'")

    features: list[Feature] = []
    raw_features = data.get("features")
    if not isinstance(raw_features, list) or not raw_features:
        problems.append('\'features\' must be a non-empty list of {"name", "kind"} objects')
        raw_features = []
    elif len(raw_features) > max_features:
        problems.append(f"'features' lists {len(raw_features)} columns; at most {max_features} are allowed")
        raw_features = []
    seen: set[str] = set()
    for position, item in enumerate(raw_features, start=1):
        where = f"features[{position - 1}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object with 'name' and 'kind'")
            continue
        extra = sorted(str(key) for key in item if key not in ("name", "kind", "categories"))
        if extra:
            problems.append(f"{where} has unknown key {', '.join(repr(key) for key in extra)}")
        name, kind, categories = item.get("name"), item.get("kind"), item.get("categories")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
            problems.append(f"{where}: 'name' must be a column name of 1 to {MAX_NAME_LENGTH} characters")
            continue
        name = name.strip()
        if name in seen:
            problems.append(f"{where}: the column '{name}' is listed twice")
        if name == target:
            problems.append(f"{where}: '{name}' is the target; it cannot also be a feature")
        seen.add(name)
        if kind not in KINDS:
            problems.append(f"{where} ('{name}'): 'kind' must be one of {', '.join(KINDS)}")
            continue
        if categories is not None and (
            kind == "numeric"
            or not isinstance(categories, list)
            or not all(
                isinstance(value, (str, int, float)) and not isinstance(value, bool) for value in categories
            )
        ):
            problems.append(
                f"{where} ('{name}'): 'categories' must be a list of values of a non-numeric column"
            )
            continue
        listed = (
            None
            if categories is None
            else [str(value).strip() for value in categories][:MAX_LISTED_CATEGORIES]
        )
        features.append(Feature(name=name, kind=kind, categories=listed))

    rows = data.get("sample_rows")
    sample_rows: list[dict[str, Any]] | None = None
    if rows is not None:
        try:
            sample_rows = records_from_inputs(rows)
        except InputError as error:
            problems.extend(
                f"sample_rows: {message}" for message in error.errors.get("inputs", [error.message])
            )
        else:
            if len(sample_rows) > MAX_SAMPLE_ROWS:
                problems.append(f"'sample_rows' has {len(sample_rows)} rows; at most {MAX_SAMPLE_ROWS}")

    if problems:
        raise _fail(problems[:20])
    schema = FeatureSchema(target=target, task=task, features=features, classes=classes)
    return ImportSchema(schema=schema, sample_rows=sample_rows)


def schema_from_sample(frame: pd.DataFrame, *, target: str, task: str) -> ImportSchema:
    """The schema inferred from a sample table (raw text columns, as csvio reads them):
    every column but ``target`` is a feature, in the file's order, of the kind the
    engine infers at training (none is left out: the model already chose its columns).
    The first MAX_SAMPLE_ROWS rows become the sample rows. ModelImportError on
    ``sample`` otherwise."""
    if task not in TASKS:
        raise ModelImportError(
            "Choose the task: classification or regression.", {"task": ["Choose the task."]}
        )
    if len(frame) > MAX_SAMPLE_ROWS:
        message = f"The sample has {len(frame):,} rows; send at most {MAX_SAMPLE_ROWS:,}."
        raise ModelImportError(message, {"sample": [message]})
    names = [str(name) for name in frame.columns if name != target]
    try:
        features, _ = select_features(frame, target, requested_features=names)
    except TrainingError as error:
        raise ModelImportError(
            error.message, {"sample": error.errors.get("features", [error.message])}
        ) from None
    rows = frame[names].astype(object).where(frame[names].notna(), None).to_dict(orient="records")
    schema = FeatureSchema(target=target, task=task, features=features, classes=None)
    return ImportSchema(schema=schema, sample_rows=rows)

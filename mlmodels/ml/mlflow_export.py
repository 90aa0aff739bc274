"""A trained model as a standard MLflow model directory, written by hand to MLflow's
documented format (the service cannot install MLflow: their pins conflict), as a zip.

What the zip holds, at its root (``unzip model.zip -d DIR``; ``mlflow models serve -m
DIR``):

- ``MLmodel``: the flavours, the signature, the input example's description and the
  service's metadata (model id, name, version, algorithm, target, classes).
- ``model.pkl``: the whole fitted scikit-learn pipeline, preprocessing included
  (flavour ``sklearn``, ``serialization_format: pickle``).
- ``model.cb``: for CatBoost algorithms, the fitted booster alone in CatBoost's own
  format (flavour ``catboost``); it expects the pipeline's preprocessed columns.
- ``python_function`` flavour: ``code/mlservice_model/`` holds this engine's own
  ``schema.py`` and ``mlflow_pyfunc.py``, byte for byte, so ``mlflow.pyfunc`` and
  ``mlflow models serve`` coerce the input with the service's rules before the
  pipeline and answer what the service answers (see ``mlflow_pyfunc``).
- ``feature_schema.json``: the columns, their kinds and categories, the classes.
- ``input_example.json`` and ``serving_input_example.json``; ``requirements.txt``,
  ``python_env.yaml`` and ``conda.yaml`` pinned to the versions that trained it.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml

from . import mlflow_pyfunc, schema
from .schema import FeatureSchema

CODE_PACKAGE = "mlservice_model"
LOADER_MODULE = f"{CODE_PACKAGE}.pyfunc"
CATBOOST_FILE = "model.cb"
# The MLflow versions the format was checked with (tests/mlmodels/test_mlflow.py runs 3.17.2).
MLFLOW_REQUIREMENT = "mlflow>=3,<4"
# Packages whose versions decide whether the pickled pipeline loads and predicts the same.
PINNED = ("scikit-learn", "catboost", "pandas", "numpy", "joblib")
_ENGINE = Path(__file__).resolve().parent

_SIGNATURE_TYPES = {"numeric": "double", "categorical": "string", "boolean": "string"}


def _output_type(classes: list[Any] | None, task: str) -> str:
    if task != "classification":
        return "double"
    if classes and all(isinstance(value, bool) for value in classes):
        return "boolean"
    if classes and all(isinstance(value, int) and not isinstance(value, bool) for value in classes):
        return "long"
    return "string"


def signature(feature_schema: FeatureSchema) -> dict[str, str]:
    """The MLmodel ``signature``: MLflow stores each part as a JSON string. Booleans are
    strings (``"true"``/``"false"``, also ``yes``/``no``, ``1``/``0``), as the service reads them."""
    inputs = [
        {"type": _SIGNATURE_TYPES[feature.kind], "name": feature.name, "required": True}
        for feature in feature_schema.features
    ]
    outputs = [{"type": _output_type(feature_schema.classes, feature_schema.task), "required": True}]
    params = [
        {
            "name": mlflow_pyfunc.PREDICT_METHOD,
            "type": "string",
            "default": "predict",
            "shape": None,
        }
    ]
    return {"inputs": json.dumps(inputs), "outputs": json.dumps(outputs), "params": json.dumps(params)}


def example_row(feature_schema: FeatureSchema) -> list[Any]:
    """One row that every model reads: 0 for numbers, the first known category, true."""
    row: list[Any] = []
    for feature in feature_schema.features:
        if feature.kind == "numeric":
            row.append(0.0)
        elif feature.kind == "boolean":
            row.append("true")
        else:
            row.append((feature.categories or [""])[0])
    return row


def requirements(library_versions: dict[str, str]) -> list[str]:
    lines = [MLFLOW_REQUIREMENT]
    lines += [f"{name}=={library_versions[name]}" for name in PINNED if library_versions.get(name)]
    # schema.py reads text with pyarrow; any version MLflow installs with will do.
    lines.append("pyarrow")
    return lines


def _is_catboost(estimator: Any) -> bool:
    return type(estimator).__module__.startswith("catboost")


def mlmodel(
    *,
    feature_schema: FeatureSchema,
    library_versions: dict[str, str],
    estimator: Any,
    metadata: dict[str, Any],
    created: datetime,
) -> dict[str, Any]:
    python_version = library_versions.get("python", "")
    flavors: dict[str, Any] = {
        "python_function": {
            "code": "code",
            "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
            "loader_module": LOADER_MODULE,
            "predict_fn": "predict",
            "python_version": python_version,
        },
        "sklearn": {
            "code": None,
            "pickled_model": mlflow_pyfunc.PIPELINE_FILE,
            "serialization_format": "pickle",
            "sklearn_version": library_versions.get("scikit-learn", ""),
            "skops_trusted_types": None,
        },
    }
    if _is_catboost(estimator):
        flavors["catboost"] = {
            "catboost_version": library_versions.get("catboost", ""),
            "code": None,
            "data": CATBOOST_FILE,
            "model_type": type(estimator).__name__,
            "save_format": "cbm",
        }
    return {
        "flavors": flavors,
        "metadata": metadata,
        "model_uuid": uuid.uuid4().hex,
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
        },
        "signature": signature(feature_schema),
        "utc_time_created": created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)


def write_mlflow_zip(
    output: IO[bytes],
    *,
    pipeline: Any,
    feature_schema: FeatureSchema,
    library_versions: dict[str, str],
    metadata: dict[str, Any],
    created: datetime | None = None,
) -> None:
    """Write the model directory as a zip into ``output`` (a binary file object)."""
    estimator = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    model = mlmodel(
        feature_schema=feature_schema,
        library_versions=library_versions,
        estimator=estimator,
        metadata=metadata,
        created=created or datetime.now(UTC),
    )
    requirement_lines = requirements(library_versions)
    python_version = library_versions.get("python", "")
    split = {"columns": feature_schema.feature_names, "data": [example_row(feature_schema)]}
    python_env = {
        "python": python_version,
        "build_dependencies": ["pip", "setuptools", "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    conda = {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python_version}", "pip", {"pip": requirement_lines}],
    }
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("MLmodel", _yaml(model))
        archive.writestr(
            mlflow_pyfunc.PIPELINE_FILE, pickle.dumps(pipeline, protocol=pickle.DEFAULT_PROTOCOL)
        )
        archive.writestr(mlflow_pyfunc.SCHEMA_FILE, json.dumps(feature_schema.to_dict(), indent=2))
        archive.writestr("input_example.json", json.dumps(split))
        archive.writestr("serving_input_example.json", json.dumps({"dataframe_split": split}, indent=2))
        archive.writestr("requirements.txt", "\n".join(requirement_lines) + "\n")
        archive.writestr("python_env.yaml", _yaml(python_env))
        archive.writestr("conda.yaml", _yaml(conda))
        archive.writestr(
            f"code/{CODE_PACKAGE}/__init__.py", '"""The service\'s scoring rules, for MLflow."""\n'
        )
        archive.write(Path(schema.__file__), f"code/{CODE_PACKAGE}/schema.py")
        archive.write(Path(mlflow_pyfunc.__file__), f"code/{CODE_PACKAGE}/pyfunc.py")
        if _is_catboost(estimator):
            with tempfile.TemporaryDirectory() as folder:
                path = os.path.join(folder, CATBOOST_FILE)
                estimator.save_model(path, format="cbm")
                archive.write(path, CATBOOST_FILE)

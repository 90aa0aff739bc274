"""A trained model out of the service: the MLflow model directory as a zip
(``mlmodels.ml.mlflow_export``), for the API's ``export/mlflow/`` and the model page's
button alike. Reads only: nothing is charged or changed."""

from __future__ import annotations

import tempfile
from typing import IO

from django.utils.text import slugify

from core.errors import Conflict
from mlmodels.ml.errors import ArtifactError
from mlmodels.ml.mlflow_export import write_mlflow_zip
from mlmodels.models import TrainedModel
from mlmodels.services.files import load_stored_artifact

# A zip up to this size is built in memory; a bigger one spills to a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024


def mlflow_export_filename(model: TrainedModel) -> str:
    return f"{slugify(model.name) or 'model'}-v{model.version}-mlflow.zip"


def mlflow_metadata(model: TrainedModel) -> dict:
    """What the MLmodel's ``metadata`` says about where the model came from."""
    return {
        "mlservice_model_id": model.pk,
        "name": model.name,
        "version": model.version,
        "algorithm": model.algorithm.key,
        "task": model.task,
        "target": model.target,
        "classes": model.classes,
        "artifact_sha256": model.artifact_sha256,
        "trained_at": model.finished_at.isoformat() if model.finished_at else None,
    }


def model_export_mlflow(*, model: TrainedModel) -> IO[bytes]:
    """The MLflow zip of a ready model, rewound, in a (spooled) temporary file the caller
    closes. 409 for a model that is not ready or whose file is missing or changed."""
    if model.status != TrainedModel.Status.READY or not model.artifact or not model.feature_schema:
        message = f"Model {model} is {model.status}; only a ready model can be exported."
        raise Conflict(message, {"model": [message]})
    try:
        loaded = load_stored_artifact(model.artifact, sha256=model.artifact_sha256)
    except ArtifactError as error:
        raise Conflict(f"The model cannot be exported: {error.message}", error.errors) from None
    output = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (the caller closes it)
    try:
        write_mlflow_zip(
            output,
            pipeline=loaded.pipeline,
            feature_schema=loaded.feature_schema,
            library_versions=loaded.library_versions or dict(model.library_versions),
            metadata=mlflow_metadata(model),
            created=model.finished_at,
        )
        output.seek(0)
    except BaseException:
        output.close()
        raise
    return output

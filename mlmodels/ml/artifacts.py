"""Model artifacts: one joblib file per trained model, written atomically and verified
by SHA-256 before it is unpickled.

Unpickling runs code, so a file is only loaded when its bytes hash to the value
recorded when it was saved; the hash is checked on the very bytes that are then
unpickled (read once into memory), so the file cannot change between check and load.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

import catboost
import joblib
import numpy as np
import pandas as pd
import sklearn
from sklearn.pipeline import Pipeline

from .errors import ArtifactError
from .schema import FeatureSchema

ARTIFACT_FORMAT = 1
# zlib level 3: forests shrink several times for little CPU.
COMPRESSION = 3
CHUNK_BYTES = 1024 * 1024


@dataclass
class ArtifactInfo:
    sha256: str
    size_bytes: int
    library_versions: dict[str, str]


@dataclass
class LoadedArtifact:
    pipeline: Pipeline
    feature_schema: FeatureSchema
    algorithm: str
    library_versions: dict[str, str]


def library_versions() -> dict[str, str]:
    """Versions that decide whether a pickled pipeline loads and behaves the same."""
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "catboost": catboost.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_artifact(
    path: str | os.PathLike[str],
    *,
    pipeline: Pipeline,
    feature_schema: FeatureSchema,
    algorithm: str,
    file_mode: int | None = None,
) -> ArtifactInfo:
    """Write the artifact to ``path`` (parent folders are created) and return its hash.

    Written to a temporary file in the same folder and renamed into place, so a
    reader never sees half a file and a crash leaves no file at ``path``. The file
    gets ``file_mode`` (else the temporary file's private 0600): the web process and
    the workers may run as different users, and both need to read the model.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    versions = library_versions()
    payload = {
        "format": ARTIFACT_FORMAT,
        "pipeline": pipeline,
        "feature_schema": feature_schema.to_dict(),
        "algorithm": algorithm,
        "library_versions": versions,
    }
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
        ) as handle:
            temporary = Path(handle.name)
            joblib.dump(payload, handle, compress=COMPRESSION)
            handle.flush()
            os.fsync(handle.fileno())
        if file_mode is not None:
            os.chmod(temporary, file_mode)
        sha256 = file_sha256(temporary)
        size = temporary.stat().st_size
        os.replace(temporary, target)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    return ArtifactInfo(sha256=sha256, size_bytes=size, library_versions=versions)


def load_artifact(path: str | os.PathLike[str], *, sha256: str) -> LoadedArtifact:
    """Load an artifact whose bytes must hash to ``sha256``; raises ArtifactError."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ArtifactError("The model file is missing.", {"model": ["the model file is missing"]}) from None
    except OSError as error:
        raise ArtifactError(
            "The model file cannot be read.",
            {"model": [f"the model file cannot be read ({error.strerror or error})"]},
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, str(sha256).strip().lower()):
        raise ArtifactError(
            "The model file has changed since it was saved; it will not be loaded.",
            {"model": ["the model file has changed since it was saved"]},
        )
    try:
        payload = joblib.load(io.BytesIO(data))
    except Exception as error:  # a verified file that will not unpickle: versions differ
        raise ArtifactError(
            "The model file cannot be loaded by this version of the service.",
            {"model": [f"the model file cannot be loaded: {type(error).__name__}: {error}"]},
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(
            "The file is not a model artifact this service understands.",
            {"model": [f"unknown artifact format (expected format {ARTIFACT_FORMAT})"]},
        )
    try:
        return LoadedArtifact(
            pipeline=payload["pipeline"],
            feature_schema=FeatureSchema.from_dict(payload["feature_schema"]),
            algorithm=str(payload["algorithm"]),
            library_versions=dict(payload.get("library_versions") or {}),
        )
    except (KeyError, TypeError) as error:
        raise ArtifactError(
            "The model artifact is incomplete.",
            {"model": [f"the model artifact is incomplete ({error})"]},
        ) from error

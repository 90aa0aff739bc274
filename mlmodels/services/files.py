"""Removing this app's stored files (by their names in the storage, core.storage), and
the one way an engine error becomes a service error."""

from __future__ import annotations

from core.errors import InvalidInput
from core.storage import delete_stored_file, local_copy
from mlmodels.ml.artifacts import LoadedArtifact, load_artifact
from mlmodels.ml.errors import ArtifactError, MLError


def remove_media_file(name: str) -> None:
    """Delete a stored file (no error when it is missing; a failure is logged)."""
    delete_stored_file(name)


def load_stored_artifact(name: str, *, sha256: str) -> LoadedArtifact:
    """Load and verify a stored model artifact (through a local copy on S3, removed
    once loaded); ArtifactError when it is missing, changed or unreadable."""
    try:
        with local_copy(name) as path:
            return load_artifact(path, sha256=sha256)
    except FileNotFoundError:
        raise ArtifactError("The model file is missing.", {"model": ["the model file is missing"]}) from None


def sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def invalid_input(error: MLError, field: str) -> InvalidInput:
    """The engine's refusal as the API's 400, its field errors kept (else on ``field``)."""
    return InvalidInput(sentence(error.message), error.errors or {field: [error.message]})

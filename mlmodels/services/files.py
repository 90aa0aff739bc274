"""Stored files of this app, by their names relative to MEDIA_ROOT, and the one way
an engine error becomes a service error."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from core.errors import InvalidInput
from mlmodels.ml.errors import MLError

logger = logging.getLogger(__name__)


def media_path(name: str) -> Path:
    """The absolute path of a file stored under MEDIA_ROOT by its relative name."""
    return Path(settings.MEDIA_ROOT) / name


def remove_media_file(name: str) -> None:
    if not name:
        return
    try:
        media_path(name).unlink(missing_ok=True)
    except OSError:
        logger.warning("could not remove %s", name, exc_info=True)


def sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def invalid_input(error: MLError, field: str) -> InvalidInput:
    """The engine's refusal as the API's 400, its field errors kept (else on ``field``)."""
    return InvalidInput(sentence(error.message), error.errors or {field: [error.message]})

"""Errors the engine raises. Each carries a human message and, where it helps, field
errors shaped like the API's error body: ``{field: [message, ...]}``."""

from __future__ import annotations


class MLError(Exception):
    """Base class: ``message`` is shown to the user as is; ``errors`` maps a field
    name (``file``, ``target``, ``hyperparameters.C``, ``inputs``, ...) to messages."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    def readable(self, *, details: int = 5) -> str:
        """One line for a failed job's page: the message, then the first ``details``
        field messages that do not merely repeat it."""
        named = [message for messages in self.errors.values() for message in messages]
        shown = [detail for detail in named[:details] if detail.rstrip(".") not in self.message]
        return f"{self.message.rstrip('.')}: {'; '.join(shown)}" if shown else self.message


class DatasetError(MLError):
    """An uploaded table cannot be read or breaks a rule (encoding, shape, names)."""


class HyperparameterError(MLError):
    """A hyperparameter is unknown, of the wrong type, out of range or refused."""


class TargetError(MLError):
    """The target column does not suit the task (classes too small, not numeric, ...)."""


class InputError(MLError):
    """Prediction input does not match the model's feature schema."""


class TooManyRowsError(InputError):
    """Prediction input has more rows than allowed (the API answers 413)."""


class ArtifactError(MLError):
    """A model artifact is missing, changed since it was saved, or unreadable."""


class TrainingError(MLError):
    """Fitting failed for a reason the user can act on."""


class SearchError(MLError):
    """A search request is out of range: unknown algorithm or metric, budget, folds."""


class ModelFileError(MLError):
    """A model file sent to be imported is not one this service loads (a pickle, a skops
    file with a type not allowed, an unknown format)."""


class ModelImportError(MLError):
    """An imported model does not fit its feature schema, or fails on the sample rows."""

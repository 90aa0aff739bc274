"""Domain errors raised by services. The API turns each into the one JSON error shape
(``{"detail": ..., "errors": {field: [messages]}}``) with its status code; web views
show the same messages next to the form fields."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        # Extra top-level fields for the API answer (e.g. balance and cost on a 402).
        self.extra = extra


class InvalidInput(ServiceError):
    status_code = 400


class NotAllowed(ServiceError):
    status_code = 403


class Conflict(ServiceError):
    status_code = 409


class PayloadTooLarge(ServiceError):
    status_code = 413


class Throttled(ServiceError):
    status_code = 429


def errors_summary(errors: dict[str, list[str]]) -> str:
    """The one-line ``detail`` for a set of field errors."""
    if len(errors) == 1:
        field, messages = next(iter(errors.items()))
        message = messages[0] if messages else "invalid"
        return message if field == "non_field_errors" else f"{field}: {message}"
    return "Invalid input: " + ", ".join(sorted(errors)) + "."

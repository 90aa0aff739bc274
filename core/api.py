"""API plumbing shared by every app: pagination, the one JSON error shape, and the
exception handler that maps domain errors to status codes."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ServiceError, errors_summary
from core.units import human_size

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait when a backing service is briefly out of reach.
UNAVAILABLE_RETRY_AFTER = 5


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors (``{"hyperparameters": {"C": [...]}}``, lists per item); clients
    get one flat ``{field: [messages]}`` map with dotted names."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key in ("non_field_errors", "__all__") and not prefix:
                name = "non_field_errors"
            for field, messages in flatten_errors(value, name).items():
                flat.setdefault(field, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            if detail:
                flat[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                name = f"{prefix}[{index}]" if prefix else f"[{index}]"
                for field, messages in flatten_errors(item, name).items():
                    flat.setdefault(field, []).extend(messages)
    else:
        flat[prefix or "non_field_errors"] = [str(detail)]
    return flat


def error_body(detail: str, errors: dict[str, list[str]] | None = None, **extra) -> dict:
    body = {"detail": detail, "errors": errors or {}}
    body.update(extra)
    return body


def _unavailable(exc: Exception) -> Response | None:
    """A 503 naming the part that cannot be reached, for a database or Redis that is
    down or restarting: a temporary condition the client should retry, not a bug."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        part = "its database"
    elif isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        part = "its cache and job queue (Redis)"
    else:
        return None
    logger.warning("answered 503: %s unreachable (%s: %s)", part, type(exc).__name__, exc)
    detail = (
        f"The service is briefly unavailable: {part} cannot be reached. Try again in a few "
        "seconds; a request retried with the same Idempotency-Key is never charged twice."
    )
    return Response(
        error_body(detail, retry_after=UNAVAILABLE_RETRY_AFTER),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


def _body_refused(exc: Exception) -> Response | None:
    """Django's limits on a request body, which it reports only as "Bad request."."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail = (
            f"The request body is larger than the {human_size(limit)} limit for JSON and form "
            "bodies. Send large prediction inputs as a CSV file (multipart, field file)."
        )
        return Response(error_body(detail), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFieldsSent):
        detail = f"The form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields."
        return Response(error_body(detail), status=status.HTTP_400_BAD_REQUEST)
    return None


def exception_handler(exc: Exception, context: dict) -> Response | None:
    refused = _unavailable(exc) or _body_refused(exc)
    if refused is not None:
        return refused
    if isinstance(exc, ServiceError):
        extra = dict(exc.extra)
        retry_after = extra.pop("retry_after", None)
        response = Response(error_body(exc.detail, exc.errors, **extra), status=exc.status_code)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        return Response(error_body("Not found."), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers (JSON under /api/)
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        response.data = error_body(errors_summary(errors), errors)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        if isinstance(detail, (dict, list)):
            errors = flatten_errors(detail)
            response.data = error_body(errors_summary(errors), errors)
        else:
            response.data = error_body(str(detail))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = int(exc.wait)
    return response

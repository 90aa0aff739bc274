"""Reads scoped to a user. Another user's prediction is always a 404 (Http404)."""

from __future__ import annotations

import logging
from typing import IO

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from billing.models import LedgerEntry
from core.errors import Conflict, InvalidInput, ServiceError
from core.storage import (
    StorageUnavailable,
    local_copy,
    open_stored_file,
    presigned_download_url,
    stored_file_exists,
)
from mlmodels.ml import csvio
from mlmodels.ml.errors import MLError
from predictions.models import Prediction

logger = logging.getLogger(__name__)

# Result files are written by the service: UTF-8, comma-separated.
RESULT_FORMAT = csvio.CsvFormat(encoding="utf-8", delimiter=",")
# Characters of one cell shown in the results table (the download has them all).
PREVIEW_CELL_CHARS = 200


class ResultFileMissing(ServiceError):
    status_code = 410


class ResultFileDeleted(ServiceError):
    status_code = 410


def prediction_list_for_user(*, user) -> QuerySet[Prediction]:
    return Prediction.objects.filter(owner=user).order_by("-created_at", "-id")


def prediction_filtered_list_for_user(*, user, status: str | None = None, model: str | None = None):
    """The user's predictions, newest first, optionally of one status and one model.
    Unknown filter values are a 400 rather than an empty list that hides a typo."""
    predictions = prediction_list_for_user(user=user).select_related("model").defer("inputs", "results")
    if status:
        if status not in Prediction.Status.values:
            choices = ", ".join(Prediction.Status.values)
            raise InvalidInput(
                f"Unknown status {status!r}; use one of {choices}.", {"status": [f"Use one of {choices}."]}
            )
        predictions = predictions.filter(status=status)
    if model:
        try:
            model_id = int(model)
        except (TypeError, ValueError):
            raise InvalidInput(
                "model must be a model id.", {"model": ["A model id (a whole number)."]}
            ) from None
        predictions = predictions.filter(model_id=model_id)
    return predictions


def prediction_get_for_user(*, user, pk) -> Prediction:
    return get_object_or_404(Prediction.objects.select_related("model"), pk=pk, owner=user)


def prediction_result_name(*, prediction: Prediction) -> str:
    """The stored name of the result CSV of a succeeded prediction (409 before that,
    410 once its files were deleted)."""
    if prediction.status != Prediction.Status.SUCCEEDED:
        if prediction.status in (Prediction.Status.QUEUED, Prediction.Status.RUNNING):
            message = (
                f"The prediction is {prediction.status}; its results can be downloaded once it succeeds."
            )
        else:
            ended = "was canceled" if prediction.status == Prediction.Status.CANCELED else "failed"
            message = f"The prediction {ended}; it has no results to download."
        raise Conflict(message, {"status": [f"The prediction is {prediction.status}."]})
    if prediction.files_deleted_at is not None:
        days = settings.PREDICTION_FILE_RETENTION_DAYS
        kept = f"Files are kept for {days} days after a prediction finishes" if days else "Files were"
        raise ResultFileDeleted(
            f"The result file of this prediction was deleted on {prediction.files_deleted_at:%Y-%m-%d}. "
            f"{kept}; the prediction, its inline results and its charge remain."
        )
    if not prediction.result_file:
        raise ResultFileMissing(RESULT_FILE_MISSING)
    return prediction.result_file


RESULT_FILE_MISSING = "The result file of this prediction is no longer available."


def prediction_result_open(*, prediction: Prediction) -> IO[bytes]:
    """The result CSV opened for streaming (the caller closes it); 410 when the stored
    file is missing, 503 when the storage is unavailable."""
    try:
        return open_stored_file(prediction_result_name(prediction=prediction))
    except FileNotFoundError:
        raise ResultFileMissing(RESULT_FILE_MISSING) from None


def prediction_result_url(*, prediction: Prediction, filename: str, content_type: str) -> str | None:
    """A short-lived URL of the result CSV in the bucket (STORAGE_PRESIGNED_DOWNLOADS),
    or None: stream it through Django instead."""
    name = prediction_result_name(prediction=prediction)
    url = presigned_download_url(name, filename=filename, content_type=content_type)
    if url is not None and not stored_file_exists(name):
        raise ResultFileMissing(RESULT_FILE_MISSING)
    return url


def prediction_output_columns(*, prediction: Prediction) -> int:
    """How many columns the service adds at the end of a result file: ``prediction``
    and, for a classifier, one ``probability_<class>`` per class."""
    classes = (prediction.model.feature_schema or {}).get("classes") or []
    return 1 + len(classes) if prediction.model.task == "classification" else 1


def prediction_result_preview(
    *, prediction: Prediction, limit: int = 100
) -> tuple[list[str], list[list[str]]]:
    """The header and first ``limit`` rows of the result file, for the results table:
    only the model's feature columns and the output columns (an input's other columns
    can number in the thousands), each cell cut to PREVIEW_CELL_CHARS characters. Read
    from the head of the file: a million-row result is never loaded."""
    try:
        name = prediction_result_name(prediction=prediction)
    except ServiceError:
        return [], []
    features = {feature["name"] for feature in (prediction.model.feature_schema or {}).get("features", [])}
    try:
        # On S3 this reads a local copy of the whole file (removed afterwards).
        with local_copy(name) as path:
            header = csvio.read_header(path, RESULT_FORMAT)
            first_output = max(len(header) - prediction_output_columns(prediction=prediction), 0)
            shown = [
                name
                for position, name in enumerate(header)
                if position >= first_output or name.strip() in features
            ]
            rows = csvio.read_head(
                path, RESULT_FORMAT, header, columns=shown, rows=limit, cell_chars=PREVIEW_CELL_CHARS
            )
    except (FileNotFoundError, StorageUnavailable):
        return [], []
    except MLError:
        logger.warning("the result file of prediction %s cannot be previewed", prediction.pk, exc_info=True)
        return [], []
    return shown, rows


def prediction_ledger_entries(*, prediction: Prediction) -> QuerySet[LedgerEntry]:
    """The charge and (if any) the refund of the prediction, oldest first."""
    return LedgerEntry.objects.filter(prediction=prediction).order_by("created_at", "id")

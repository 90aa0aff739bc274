"""Datasets: upload (read and checked in the request, so a bad file is refused at
once), the profile job (core.jobs: claim, profile, ready or failed), delete."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from core.errors import InvalidInput, PayloadTooLarge
from core.jobs.lifecycle import SweepReport, job_claim, job_enqueue, job_fail, job_succeed, job_sweep
from core.storage import StagedFile, StorageUnavailable, local_copy
from core.units import human_size
from mlmodels.jobs import DATASET_PROFILE
from mlmodels.ml import csvio, encodings, profiling, samples
from mlmodels.ml.errors import MLError
from mlmodels.models import Dataset
from mlmodels.services.files import invalid_input, remove_media_file, sentence

logger = logging.getLogger(__name__)

UPLOAD_CHUNK_BYTES = 1024 * 1024
_DELIMITER_NAMES = {";": "semicolons", "\t": "tabs", "|": "vertical bars (|)"}


def too_large_error(size: int | None, limit: int) -> PayloadTooLarge:
    """The one refusal of a too-large dataset file, in the units the form states."""
    if size is None:
        message = f"The file is larger than the limit of {human_size(limit)}."
    else:
        message = f"The file is {human_size(size)}; the limit is {human_size(limit)}."
    return PayloadTooLarge(message, {"file": [message]}, limit_bytes=limit)


def _copy_upload(uploaded, path: Path, max_bytes: int) -> int:
    """Copy an uploaded file to ``path`` in chunks, counting bytes (the declared size
    of an upload is the client's word)."""
    written = 0
    with open(path, "wb") as handle:
        for chunk in uploaded.chunks(UPLOAD_CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise too_large_error(None, max_bytes)
            handle.write(chunk)
    return written


def _dataset_notes(table: csvio.Table) -> list[str]:
    notes: list[str] = []
    fmt = table.format
    if fmt.encoding_note:
        notes.append(
            f"The file is not valid UTF-8; it was read as {encodings.encoding_label(fmt.encoding)}. "
            "Check that accented letters look right below."
        )
    if fmt.delimiter != ",":
        notes.append(f"Columns are separated by {_DELIMITER_NAMES.get(fmt.delimiter, repr(fmt.delimiter))}.")
    empty = [column.name for column in table.columns if column.missing == len(table.frame)]
    if empty:
        notes.append("Every value is missing in: " + ", ".join(empty[:10]) + ("…" if len(empty) > 10 else ""))
    return notes


def dataset_upload(
    *, user, file, name: str = "", enqueue_profile: bool = True, meanings: dict[str, str] | None = None
) -> Dataset:
    """Store an uploaded CSV (core.storage), read it (encoding, delimiter, header,
    row and column limits) and record its columns; a task computes the profile.
    ``meanings`` (column name → a sentence) become the columns' ``description``.

    Refused files raise InvalidInput (field ``file``, the engine's message) or
    PayloadTooLarge; nothing is stored then, neither a row nor a file.
    """
    max_bytes = settings.DATASET_MAX_BYTES
    name = (name or "").strip()
    if len(name) > 200:
        raise InvalidInput("name: at most 200 characters.", {"name": ["At most 200 characters."]})
    if file is None:
        raise InvalidInput("file: choose a CSV file to upload.", {"file": ["Choose a CSV file to upload."]})
    declared = getattr(file, "size", None)
    if declared is not None and declared > max_bytes:
        raise too_large_error(declared, max_bytes)
    original_filename = os.path.basename(getattr(file, "name", "") or "")[:255]
    name = name or (Path(original_filename).stem[:200] if original_filename else "") or "Dataset"

    token = secrets.token_hex(8)
    relative = f"datasets/{user.pk}/{token}.csv"
    # Written locally (on local disk: in place) and read there; stored before the row
    # exists, so a storage failure leaves nothing behind.
    staged = StagedFile(relative)
    try:
        size = _copy_upload(file, staged.path, max_bytes)
        table = csvio.read_table(
            staged.path,
            max_rows=settings.DATASET_MAX_ROWS,
            max_columns=settings.DATASET_MAX_COLUMNS,
            max_bytes=max_bytes,
        )
        staged.store()
        with transaction.atomic():
            dataset = Dataset(
                owner=user,
                name=name,
                token=token,
                original_filename=original_filename,
                size_bytes=size,
                rows=len(table.frame),
                columns=[_described(column.as_dict(), meanings or {}) for column in table.columns],
                encoding=table.format.encoding,
                delimiter=table.format.delimiter,
                notes=_dataset_notes(table),
                status=Dataset.Status.PROFILING,
                attempts=1 if enqueue_profile else 0,
                enqueued_at=timezone.now() if enqueue_profile else None,
            )
            dataset.file.name = relative
            dataset.save()
            if enqueue_profile:
                job_enqueue(DATASET_PROFILE, dataset.pk)
    except MLError as error:
        staged.discard()
        raise invalid_input(error, "file") from None
    except BaseException:
        staged.discard()
        raise
    finally:
        staged.release()
    return dataset


def _described(column: dict[str, Any], meanings: dict[str, str]) -> dict[str, Any]:
    meaning = meanings.get(column["name"])
    return {**column, "description": meaning} if meaning else column


def dataset_upload_sample(*, user, key: str, name: str = "", enqueue_profile: bool = True) -> Dataset:
    """Upload one of the sample tables (``mlmodels.ml.samples``) as the user's own
    dataset, with what each column means: the one-click start on the dashboard, and
    the demo catalog's data. An unknown key is InvalidInput (``sample``)."""
    sample = samples.SAMPLES.get(key)
    if sample is None:
        choices = ", ".join(samples.SAMPLES)
        raise InvalidInput(f"sample: must be one of {choices}.", {"sample": [f"Must be one of {choices}."]})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / sample.filename
        sample.build().to_csv(path, index=False)
        with open(path, "rb") as handle:
            return dataset_upload(
                user=user,
                file=File(handle, name=sample.filename),
                name=name or sample.name.replace("(demo)", "(sample)"),
                enqueue_profile=enqueue_profile,
                meanings=sample.meanings,
            )


def dataset_profile(*, dataset_id: int, task_id: str = "") -> Dataset | None:
    """Claim the dataset's profile job, compute the profile and move it to ``ready``
    (or ``failed`` with the reason). None when the job was not queued (a second
    delivery, or the dataset was deleted): nothing is done twice."""
    if not job_claim(DATASET_PROFILE, dataset_id, task_id=task_id[:64]):
        return None
    dataset = Dataset.objects.get(pk=dataset_id)
    try:
        with local_copy(dataset.file.name) as path:
            table = csvio.read_table(
                path, max_rows=settings.DATASET_MAX_ROWS, max_columns=settings.DATASET_MAX_COLUMNS
            )
        started = time.perf_counter()
        profile = profiling.profile_table(table.frame, table.columns)
        profile["seconds"] = round(time.perf_counter() - started, 3)
    except FileNotFoundError:
        job_fail(DATASET_PROFILE, dataset_id, error="The stored file is missing; upload the data again.")
    except StorageUnavailable:
        job_fail(
            DATASET_PROFILE, dataset_id, error="The file storage was unavailable; profile it again later."
        )
    except MLError as error:
        job_fail(DATASET_PROFILE, dataset_id, error=sentence(error.message))
    except Exception as error:
        logger.exception("profiling dataset %s failed", dataset_id)
        job_fail(DATASET_PROFILE, dataset_id, error=f"Profiling failed: {type(error).__name__}: {error}")
    else:
        job_succeed(DATASET_PROFILE, dataset_id, profile=profile)
    return Dataset.objects.get(pk=dataset_id)


def dataset_profile_sweep(*, now=None) -> SweepReport:
    """Profile jobs lost or stuck: the one sweep policy (core.jobs.lifecycle.job_sweep)."""
    return job_sweep(DATASET_PROFILE, now=now)


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete the dataset and its file. Models trained on it keep its name; a model
    still waiting to train on it will fail and be refunded."""
    name = dataset.file.name
    with transaction.atomic():
        dataset.delete()
        transaction.on_commit(lambda: remove_media_file(name))


def dataset_frame(dataset: Dataset, columns: list[str] | None = None) -> pd.DataFrame:
    """The stored table as raw text (all columns, or only ``columns``)."""
    fmt = csvio.CsvFormat(encoding=dataset.encoding, delimiter=dataset.delimiter)
    with local_copy(dataset.file.name) as path:
        chunks = list(csvio.iter_csv_chunks(path, fmt, chunk_rows=max(dataset.rows, 1), columns=columns))
    if not chunks:
        return pd.DataFrame(columns=columns or dataset.column_names)
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)

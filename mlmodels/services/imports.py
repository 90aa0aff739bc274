"""Bringing a model trained elsewhere: the request's side. Everything that can be judged
without loading the model is judged here, before anything is charged — the file's
format by its bytes (a pickle or joblib file is refused, a skops file's types are
checked against the allow-list), the feature schema (JSON, or inferred from a sample
CSV) and the sample rows against it. Then, in one transaction, the model is created
``queued`` as the next version of its name with ``source=imported``, the import fee is
charged and the training job is enqueued; its worker (services.import_job) loads the
model, predicts the sample rows and makes it ready — or fails and refunds.

An import is a training job (core.jobs kind ``training``) of a model row like any
other, so it has every version, price, publishing and deletion rule of a trained model
without a copy of them; the fee is that model's one fee (``training_fee``, the ledger's
one fee per model), refunded at most once by the same lifecycle.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from billing.models import LedgerEntry
from billing.services import account_debit
from core.errors import InvalidInput, PayloadTooLarge
from core.idempotency import idempotent_call, idempotent_replay, request_fingerprint
from core.jobs.lifecycle import job_enqueue, job_submitted
from core.storage import StagedFile
from core.units import human_size
from mlmodels.jobs import TRAINING
from mlmodels.ml import csvio
from mlmodels.ml.errors import MLError
from mlmodels.ml.imported_schema import (
    MAX_SAMPLE_ROWS,
    ImportSchema,
    schema_from_json,
    schema_from_sample,
)
from mlmodels.ml.inputs import frame_from_records, validate_frame
from mlmodels.ml.model_files import CATBOOST, FORMAT_NAMES, SKOPS, ModelFile, sniff_model_file
from mlmodels.ml.schema import TASKS
from mlmodels.models import Algorithm, ModelImportSettings, TrainedModel
from mlmodels.services.files import invalid_input

IDEMPOTENCY_SCOPE = "model-imports"
CENT = Decimal("0.01")
UPLOAD_CHUNK_BYTES = 1024 * 1024
# A sample CSV is read in the request (to infer the schema): it must stay small.
SAMPLE_MAX_BYTES = 5 * 1024 * 1024

# The Algorithm rows that label imported models, by file format: never offered for
# training (not in the catalog, disabled), of either task.
IMPORT_ALGORITHMS = {
    SKOPS: ("imported-sklearn", "Imported scikit-learn model (skops)"),
    CATBOOST: ("imported-catboost", "Imported CatBoost model (.cbm)"),
}
FORMAT_OF_ALGORITHM = {key: file_format for file_format, (key, _) in IMPORT_ALGORITHMS.items()}


def import_fee() -> Decimal:
    """The operator's fee per imported model (admin → Model import settings), or else
    the cheapest enabled algorithm's training price (an import costs about one training)."""
    configured = ModelImportSettings.objects.values_list("import_fee", flat=True).first()
    if configured is None:
        cheapest = Algorithm.objects.filter(enabled=True, in_catalog=True).aggregate(Min("training_price"))
        configured = cheapest["training_price__min"] or Decimal("0")
    return Decimal(configured).quantize(CENT)


def import_algorithm(file_format: str) -> Algorithm:
    key, name = IMPORT_ALGORITHMS[file_format]
    algorithm, _ = Algorithm.objects.get_or_create(
        key=key,
        defaults={
            "name": name,
            "task": "",
            "description": "A model trained elsewhere and imported; not offered for training.",
            "enabled": False,
            "in_catalog": False,
            "training_price": Decimal("0.00"),
        },
    )
    return algorithm


def model_file_format(model: TrainedModel) -> str:
    """The file format of an imported model (from the algorithm row that labels it)."""
    return FORMAT_OF_ALGORITHM[model.algorithm.key]


def too_large(size: int | None, limit: int, field: str = "file") -> PayloadTooLarge:
    what = "The model file" if field == "file" else "The sample file"
    message = (
        f"{what} is larger than the limit of {human_size(limit)}."
        if size is None
        else f"{what} is {human_size(size)}; the limit is {human_size(limit)}."
    )
    return PayloadTooLarge(message, {field: [message]}, limit_bytes=limit)


def _copy(uploaded, path: Path, max_bytes: int, field: str) -> str:
    """Copy an upload to ``path`` counting bytes (its declared size is the client's
    word); the SHA-256 of what was written."""
    digest = hashlib.sha256()
    written = 0
    with open(path, "wb") as handle:
        for chunk in uploaded.chunks(UPLOAD_CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise too_large(None, max_bytes, field)
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ImportRequest:
    """An import that passed every check that can be made before charging."""

    name: str
    model_file: ModelFile
    schema: ImportSchema
    sample_name: str


@dataclass
class ImportSubmission:
    model: TrainedModel
    replayed: bool = False


def _read_sample(sample, *, target: str, task: str) -> tuple[ImportSchema, str]:
    """The schema inferred from a sample CSV (its rows are the sample rows)."""
    declared = getattr(sample, "size", None)
    if declared is not None and declared > SAMPLE_MAX_BYTES:
        raise too_large(declared, SAMPLE_MAX_BYTES, "sample")
    handle, temporary = tempfile.mkstemp(prefix="mlservice-sample-", suffix=".csv")
    os.close(handle)
    try:
        _copy(sample, Path(temporary), SAMPLE_MAX_BYTES, "sample")
        try:
            table = csvio.read_table(
                temporary, max_rows=MAX_SAMPLE_ROWS, max_columns=settings.DATASET_MAX_COLUMNS + 1
            )
        except MLError as error:
            raise invalid_input(error, "sample") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    try:
        return schema_from_sample(table.frame, target=target, task=task), os.path.basename(sample.name or "")
    except MLError as error:
        raise invalid_input(error, "sample") from None


def import_validate(
    *,
    name: Any,
    file_path: Path,
    filename: str,
    schema: Any = None,
    sample=None,
    target: Any = None,
    task: Any = None,
) -> ImportRequest:
    """Every check of an import that needs no loaded model: the name, the file's format
    (by content), the schema (JSON text or object; else inferred from ``sample``, a CSV
    upload, with ``target`` and ``task``) and the sample rows against the schema.
    Raises InvalidInput naming each problem."""
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise InvalidInput("Give the model a name.", {"name": ["Give the model a name."]})
    if len(name) > 100:
        raise InvalidInput(
            "name: at most 100 characters.", {"name": [f"At most 100 characters ({len(name)})."]}
        )
    try:
        model_file = sniff_model_file(file_path, filename=filename, max_bytes=settings.MODEL_IMPORT_MAX_BYTES)
    except MLError as error:
        raise invalid_input(error, "file") from None

    sample_name = ""
    if isinstance(schema, str) and schema.strip():
        try:
            schema = json.loads(schema)
        except ValueError as error:
            message = f"The schema is not valid JSON ({error})."
            raise InvalidInput(message, {"schema": [message]}) from None
    if schema not in (None, ""):
        try:
            parsed = schema_from_json(schema, max_features=settings.DATASET_MAX_COLUMNS)
        except MLError as error:
            raise invalid_input(error, "schema") from None
        if sample is not None:
            from_sample, sample_name = _read_sample(
                sample, target=parsed.schema.target, task=parsed.schema.task
            )
            parsed = ImportSchema(schema=parsed.schema, sample_rows=from_sample.sample_rows)
    elif sample is not None:
        target = target.strip() if isinstance(target, str) else ""
        problems = {}
        if not target:
            problems["target"] = ["Name the column the model predicts."]
        if task not in TASKS:
            problems["task"] = ["Choose classification or regression."]
        if problems:
            raise InvalidInput("Name the target and the task of the model.", problems)
        parsed, sample_name = _read_sample(sample, target=target, task=task)
    else:
        message = "Send the feature schema (JSON) or a sample CSV to infer it from."
        raise InvalidInput(message, {"schema": [message]})

    if not parsed.sample_rows:
        message = "Give sample rows to check the model on: 'sample_rows' in the schema, or a sample CSV."
        raise InvalidInput(message, {"sample": [message]})
    try:
        validate_frame(frame_from_records(parsed.sample_rows), parsed.schema, max_rows=MAX_SAMPLE_ROWS)
    except MLError as error:
        message = f"The sample rows do not fit the schema: {error.readable()}"
        raise InvalidInput(message, {"sample": [message]}) from None
    return ImportRequest(name=name, model_file=model_file, schema=parsed, sample_name=sample_name)


def import_submit(*, user, request: ImportRequest, upload: str) -> TrainedModel:
    """Create the model (``queued``, the next version of its name), charge the import
    fee and enqueue its job, in one transaction: InsufficientFunds (402) or too many
    jobs (429) leave nothing behind. ``upload`` is the checked file under MEDIA_ROOT."""
    fee = import_fee()
    algorithm = import_algorithm(request.model_file.format)
    schema = request.schema.schema
    for attempt in range(3):
        try:
            with transaction.atomic():
                latest = TrainedModel.objects.filter(owner=user, name=request.name).aggregate(Max("version"))
                now = timezone.now()
                model = TrainedModel.objects.create(
                    owner=user,
                    name=request.name,
                    version=(latest["version__max"] or 0) + 1,
                    source=TrainedModel.Source.IMPORTED,
                    dataset=None,
                    dataset_name=request.sample_name[:200],
                    algorithm=algorithm,
                    task=schema.task,
                    target=schema.target,
                    feature_schema=schema.to_dict(),
                    import_upload=upload,
                    import_sample=request.schema.sample_rows,
                    refit_full=False,
                    training_fee=fee,
                    price_per_row=settings.DEFAULT_PRICE_PER_ROW,
                    is_active=False,
                    is_public=False,
                    enqueued_at=now,
                    attempts=1,
                    created_at=now,
                )
                if fee > 0:
                    account_debit(
                        user=user,
                        amount=fee,
                        kind=LedgerEntry.Kind.TRAINING_FEE,
                        memo=f"Import fee: {model} ({FORMAT_NAMES[request.model_file.format]})",
                        model=model,
                    )
                job_submitted(TRAINING, model)
                job_enqueue(TRAINING, model.pk)
            return model
        except IntegrityError:
            if attempt == 2:  # two submissions raced for the same next version; count again
                raise
    raise AssertionError("unreachable")


def model_import(
    *,
    user,
    name: Any,
    file,
    schema: Any = None,
    sample=None,
    target: Any = None,
    task: Any = None,
    idempotency_key: str | None = None,
) -> ImportSubmission:
    """Import a model file (an upload) for ``user``: stored (core.storage) while it is
    checked (removed again on any refusal: a refused import leaves no file, no row, no
    charge), validated (import_validate), then charged and enqueued (import_submit).
    With an ``idempotency_key`` a retry of the same request gets the first model."""
    limit = settings.MODEL_IMPORT_MAX_BYTES
    if file is None:
        message = "Choose the model file: a skops file or a CatBoost .cbm file."
        raise InvalidInput(message, {"file": [message]})
    declared = getattr(file, "size", None)
    if declared is not None and declared > limit:
        raise too_large(declared, limit)
    relative = f"imports/{user.pk}/{secrets.token_hex(8)}.upload"
    staged = StagedFile(relative)
    path = staged.path
    keep = False
    try:
        digest = _copy(file, path, limit, "file")
        fingerprint = ""
        if idempotency_key:
            fingerprint = request_fingerprint(
                {
                    "name": name,
                    "file": digest,
                    "schema": schema if isinstance(schema, (str, dict, type(None))) else str(schema),
                    "sample": _upload_digest(sample),
                    "target": target,
                    "task": task,
                }
            )
        earlier = idempotent_replay(
            user=user, scope=IDEMPOTENCY_SCOPE, key=idempotency_key, fingerprint=fingerprint
        )
        if earlier is not None:
            return ImportSubmission(
                model=TrainedModel.objects.get(pk=earlier.body["id"], owner=user), replayed=True
            )
        request = import_validate(
            name=name,
            file_path=path,
            filename=os.path.basename(getattr(file, "name", "") or ""),
            schema=schema,
            sample=sample,
            target=target,
            task=task,
        )
        # Stored before the charge: a storage failure is a 503 that costs nothing.
        staged.store()
        created: list[TrainedModel] = []

        def submit() -> tuple[int, dict]:
            model = import_submit(user=user, request=request, upload=relative)
            created.append(model)
            return 202, {"id": model.pk, "status": model.status, "cost": str(model.training_fee)}

        answer = idempotent_call(
            user=user, scope=IDEMPOTENCY_SCOPE, key=idempotency_key, fingerprint=fingerprint, call=submit
        )
        if answer.replayed:
            return ImportSubmission(
                model=TrainedModel.objects.get(pk=answer.body["id"], owner=user), replayed=True
            )
        keep = True
        return ImportSubmission(model=created[0])
    finally:
        if not keep:
            staged.discard()
        staged.release()


def _upload_digest(upload) -> str:
    if upload is None:
        return ""
    digest = hashlib.sha256()
    for chunk in upload.chunks(UPLOAD_CHUNK_BYTES):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()

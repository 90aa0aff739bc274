"""Prediction jobs: everything that creates a prediction or changes its status.

Submit: check the input against the model's feature schema (nothing is charged for
input the model cannot score), then in one transaction create the job ``queued``,
charge it and enqueue its task on commit. Every later move is a conditional UPDATE
from the status the caller believes the job is in, so two paths racing for one job
(the task and the sweep, the task and a cancel, a task delivered twice) cannot both
win; the path that moves a job to ``failed`` or ``canceled`` refunds it in the same
transaction, so a job is refunded at most once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from billing.models import LedgerEntry
from billing.services import account_debit, cost_quote
from core.errors import Conflict, InvalidInput, PayloadTooLarge, ServiceError
from core.idempotency import IdempotentAnswer, idempotent_call, idempotent_replay, request_fingerprint
from core.jobs.lifecycle import (
    SweepReport,
    job_cancel,
    job_claim,
    job_claim_batch,
    job_enqueue,
    job_fail,
    job_progress,
    job_submitted,
    job_succeed,
    job_sweep,
)
from core.storage import delete_stored_file
from mlmodels.ml.errors import InputError, TooManyRowsError
from mlmodels.ml.inputs import validate_csv, validate_records
from mlmodels.ml.schema import FeatureSchema
from mlmodels.models import TrainedModel
from mlmodels.selectors import model_prediction_refusal, model_to_predict_for_user
from predictions.coerced import coerced_to_json
from predictions.jobs import PREDICTION
from predictions.models import Prediction
from predictions.uploads import FILE_FIELD, StoredCsv, new_token
from webhooks.models import Resource
from webhooks.services import WebhookTarget, webhook_subscribe, webhook_target_for_submission

logger = logging.getLogger(__name__)

IDEMPOTENCY_SCOPE = "predictions"
Status = Prediction.Status


@dataclass
class Submission:
    prediction: Prediction
    replayed: bool = False  # an Idempotency-Key retry answered with the first job


@dataclass
class _CheckedInput:
    kind: str
    rows: int
    extra_columns: list[str]
    inputs: list[dict[str, Any]] | None = None
    input_columns: list[str] = field(default_factory=list)
    coerced_inputs: dict[str, Any] | None = None
    upload: StoredCsv | None = None
    filename: str = ""


# --- Submit -----------------------------------------------------------------------------


def prediction_model(*, user, model_id: int) -> TrainedModel:
    """The model to score with: visible to the user (another user's private model is a
    404), ready, and the active version unless it is the user's own; anything else is a
    409 that says why (mlmodels.selectors.model_prediction_refusal)."""
    try:
        model = model_to_predict_for_user(user=user, pk=model_id)
    except Http404:
        deleted = TrainedModel.objects.filter(pk=model_id, owner=user, deleted_at__isnull=False).exists()
        if deleted:
            raise Conflict(
                "This model was deleted; it can no longer make predictions.",
                {"model": ["This model was deleted."]},
            ) from None
        raise
    refusal = model_prediction_refusal(user=user, model=model)
    if refusal:
        raise Conflict(refusal, {"model": [refusal]})
    return model


def _input_error(error: InputError) -> ServiceError:
    if isinstance(error, TooManyRowsError):
        return PayloadTooLarge(error.message, error.errors)
    return InvalidInput(error.message, error.errors)


def _check_json(inputs: Any, schema: FeatureSchema) -> _CheckedInput:
    records = [inputs] if isinstance(inputs, dict) else inputs
    limit = settings.PREDICTION_MAX_JSON_ROWS
    # Cheap refusal before a DataFrame is built from a huge list.
    if isinstance(records, list) and len(records) > limit:
        message = (
            f"the input has {len(records):,} rows; the limit for JSON is {limit:,} (send a CSV file instead)"
        )
        raise PayloadTooLarge(f"Too many rows: {message}.", {"inputs": [message]})
    try:
        checked = validate_records(
            inputs, schema, max_rows=limit, max_columns=settings.PREDICTION_MAX_COLUMNS, field_name="inputs"
        )
    except InputError as error:
        raise _input_error(error) from None
    return _CheckedInput(
        kind=Prediction.InputKind.JSON,
        rows=checked.rows,
        extra_columns=checked.extra_columns,
        inputs=records,
        input_columns=checked.columns,
        coerced_inputs=coerced_to_json(checked.coerced, schema),
    )


def _check_csv(upload: StoredCsv, schema: FeatureSchema) -> _CheckedInput:
    try:
        summary = validate_csv(
            upload.path,
            schema,
            max_rows=settings.PREDICTION_MAX_ROWS,
            max_columns=settings.PREDICTION_MAX_COLUMNS,
            chunk_rows=settings.PREDICTION_CHUNK_ROWS,
            threads=settings.PREDICTION_SCORING_THREADS,
        )
    except InputError as error:
        raise _input_error(error) from None
    return _CheckedInput(
        kind=Prediction.InputKind.CSV,
        rows=summary.rows,
        extra_columns=summary.extra_columns,
        upload=upload,
        filename=upload.name or "",
    )


def _replayed(answer: IdempotentAnswer, *, user) -> Submission:
    prediction = Prediction.objects.select_related("model").get(pk=answer.body["id"], owner=user)
    return Submission(prediction=prediction, replayed=True)


def _create_charge_enqueue(
    *, user, model: TrainedModel, checked: _CheckedInput, webhook: WebhookTarget | None = None
) -> Prediction:
    quote = cost_quote(
        rows=checked.rows, price_per_row=model.price_per_row, price_per_request=model.price_per_request
    )
    cost = quote.cost
    now = timezone.now()
    with transaction.atomic():
        prediction = Prediction.objects.create(
            owner=user,
            model=model,
            token=checked.upload.token if checked.upload else new_token(),
            status=Status.QUEUED,
            input_kind=checked.kind,
            inputs=checked.inputs,
            input_columns=checked.input_columns,
            coerced_inputs=checked.coerced_inputs,
            input_file=checked.upload.relative_path if checked.upload else "",
            input_filename=checked.filename[:255],
            rows=checked.rows,
            extra_columns=checked.extra_columns,
            price_per_row=quote.price_per_row,
            price_per_request=quote.price_per_request,
            cost=cost,
            attempts=1,
            created_at=now,
            enqueued_at=now,
        )
        if cost > 0:  # a free model charges nothing, and a ledger entry is never zero
            account_debit(
                user=user,
                amount=cost,
                kind=LedgerEntry.Kind.PREDICTION_CHARGE,
                memo=f"Prediction #{prediction.pk}: {quote.formula} on {model}",
                prediction=prediction,
                quote=quote,
            )
        job_submitted(PREDICTION, prediction)
        webhook_subscribe(target=webhook, owner=user, resource=Resource.PREDICTION, job_id=prediction.pk)
        job_enqueue(PREDICTION, prediction.pk)
    return prediction


def prediction_submit(
    *,
    user,
    model_id: int,
    inputs: Any = None,
    upload: StoredCsv | None = None,
    idempotency_key: str | None = None,
    webhook: str | None = None,
    webhook_events: list[str] | None = None,
    model: TrainedModel | None = None,
) -> Submission:
    """Check the input, then charge, create the job ``queued`` and enqueue it.

    ``inputs`` (one JSON object or a list of them) or ``upload`` (a CSV already
    streamed to storage by PredictionUploadHandler). Input errors are InvalidInput
    (400) or PayloadTooLarge (413) and charge nothing; a short balance raises
    InsufficientFunds (402) and writes nothing. The uploaded file belongs to the new
    prediction on success and is removed on any refusal or replay. ``webhook`` and
    ``webhook_events`` (webhooks.services.webhook_target_for_submission) are checked
    with the input, before the charge. ``model``: prediction_model's answer for
    ``model_id``, when the caller has it already.
    """
    if (inputs is None) == (upload is None):
        raise InvalidInput(
            "Send either inputs (JSON rows) or a CSV file, not both and not neither.",
            {"inputs": ["Send inputs or file."], FILE_FIELD: ["Send inputs or file."]},
        )
    adopted = False
    try:
        # What makes two requests "the same" for an Idempotency-Key: the model and the
        # rows (for a CSV, the file's SHA-256, computed while it streamed in). A retry is
        # answered first, before any check, so it gets the first answer even if the
        # model changed since.
        fingerprint = ""
        if idempotency_key:
            body = {"file_sha256": upload.sha256} if upload is not None else {"inputs": inputs}
            fingerprint = request_fingerprint({"model": model_id, **body})
        earlier = idempotent_replay(
            user=user, scope=IDEMPOTENCY_SCOPE, key=idempotency_key, fingerprint=fingerprint
        )
        if earlier is not None:
            return _replayed(earlier, user=user)

        if model is None or model.pk != model_id:
            model = prediction_model(user=user, model_id=model_id)
        schema = FeatureSchema.from_dict(model.feature_schema)
        checked = _check_csv(upload, schema) if upload is not None else _check_json(inputs, schema)
        target = webhook_target_for_submission(user=user, url=webhook, events=webhook_events)
        if upload is not None:
            upload.store()  # before the charge: a storage failure is a 503 that costs nothing
        created: list[Prediction] = []

        def submit() -> tuple[int, dict]:
            prediction = _create_charge_enqueue(user=user, model=model, checked=checked, webhook=target)
            created.append(prediction)
            return 202, {"id": prediction.pk, "status": prediction.status, "cost": str(prediction.cost)}

        answer = idempotent_call(
            user=user,
            scope=IDEMPOTENCY_SCOPE,
            key=idempotency_key,
            fingerprint=fingerprint,
            call=submit,
        )
        if answer.replayed:  # a concurrent twin with the same key committed first
            return _replayed(answer, user=user)
        adopted = upload is not None
        return Submission(prediction=created[0])
    finally:
        if upload is not None and not adopted:
            upload.discard()


# --- Cancel -----------------------------------------------------------------------------


def prediction_cancel(*, user, prediction: Prediction) -> Prediction:
    """Cancel a job that no worker has started, and refund it. 409 once it has started
    (or finished): a running job is paid for and runs to its end."""
    if prediction.owner_id != user.pk:
        raise Http404
    moved = job_cancel(PREDICTION, prediction.pk, error="Canceled before it started; the cost was refunded.")
    prediction.refresh_from_db()
    if not moved:
        state = {
            Status.RUNNING: "is running",
            Status.SUCCEEDED: "has succeeded",
            Status.FAILED: "has failed",
            Status.CANCELED: "was canceled already",
        }.get(prediction.status, f"is {prediction.status}")
        raise Conflict(
            f"This prediction {state}; only a queued prediction can be canceled.",
            {"status": [f"The prediction is {prediction.status}."]},
        )
    return prediction


# --- The worker's moves (core.jobs.lifecycle) ------------------------------------------------


def prediction_claim(*, prediction_id: int, task_id: str = "", created_at=None) -> bool:
    """queued → running for this worker; False when it is not queued any more."""
    return job_claim(PREDICTION, prediction_id, created_at=created_at, progress=0, task_id=task_id[:64])


def prediction_claim_batch(*, model_id: int, max_rows: int, limit: int, task_id: str = "") -> list[int]:
    """Claim up to ``limit`` queued JSON predictions of the model with at most
    ``max_rows`` rows each, to be scored together with one this worker claimed."""
    return job_claim_batch(
        PREDICTION,
        limit=limit,
        match={"model_id": model_id, "input_kind": Prediction.InputKind.JSON, "rows__lte": max_rows},
        progress=0,
        task_id=task_id[:64],
    )


def prediction_progress(*, prediction_id: int, percent: int) -> bool:
    """Record progress; False when the job is no longer running (the sweep gave up on
    it), so the worker can stop."""
    return job_progress(PREDICTION, prediction_id, progress=max(0, min(99, int(percent))))


def prediction_succeed(
    *,
    prediction_id: int,
    result_file: str,
    results: list[dict[str, Any]] | None,
    scoring_seconds: float,
    counters: dict[str, int] | None = None,
) -> bool:
    """running → succeeded (raising ``counters`` with the job's own). False when the
    job had already been failed by the sweep: it was refunded, so its late result must
    not be kept."""
    return job_succeed(
        PREDICTION,
        prediction_id,
        counters=counters,
        progress=100,
        result_file=result_file,
        results=results,
        scoring_seconds=scoring_seconds,
    )


def prediction_fail(*, prediction_id: int, error: str) -> bool:
    """running → failed, refunded in full in the same transaction."""
    return job_fail(PREDICTION, prediction_id, error=error)


def prediction_sweep(*, now=None) -> SweepReport:
    """Fail and refund stuck jobs, enqueue lost ones again (core.jobs.lifecycle.job_sweep)."""
    return job_sweep(PREDICTION, now=now)


# --- File retention --------------------------------------------------------------------


def prediction_files_expire(*, now=None, batch: int = 500) -> list[int]:
    """Delete the input and result files of predictions that finished more than
    PREDICTION_FILE_RETENTION_DAYS ago (up to ``batch`` of them per call), and mark them.
    The prediction, its inline results and its ledger entries stay. Files are deleted
    before the mark, so an interrupted run is finished by the next one."""
    days = settings.PREDICTION_FILE_RETENTION_DAYS
    if days <= 0:
        return []
    now = now or timezone.now()
    due = Prediction.objects.filter(
        files_deleted_at__isnull=True,
        finished_at__lt=now - timedelta(days=days),
        status__in=Prediction.FINISHED,
    ).order_by("finished_at")
    expired = []
    for prediction_id, input_file, result_file in due.values_list("pk", "input_file", "result_file")[:batch]:
        # Marked only once its files are gone: the next run tries again.
        if not all([delete_stored_file(input_file), delete_stored_file(result_file)]):
            continue
        if Prediction.objects.filter(pk=prediction_id, files_deleted_at__isnull=True).update(
            files_deleted_at=now
        ):
            expired.append(prediction_id)
    if expired:
        logger.info("deleted the files of %d predictions older than %d days", len(expired), days)
    return expired

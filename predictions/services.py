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
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from billing.models import IdempotencyKey, LedgerEntry
from billing.services import (
    IdempotentAnswer,
    account_debit,
    charge_refund,
    cost_of,
    idempotent_call,
    request_fingerprint,
)
from mlmodels.ml.errors import InputError, TooManyRowsError
from mlmodels.ml.inputs import validate_csv, validate_records
from mlmodels.ml.schema import FeatureSchema
from mlmodels.models import TrainedModel
from mlmodels.selectors import model_get_for_user
from mlservice.errors import Conflict, InvalidInput, PayloadTooLarge, ServiceError
from mlservice.job_events import job_status_moved
from mlservice.jobs import enqueue_on_commit
from predictions.coerced import coerced_to_json
from predictions.models import Prediction
from predictions.uploads import FILE_FIELD, StoredCsv, new_token
from predictions.waiting import announce_finished

logger = logging.getLogger(__name__)

IDEMPOTENCY_SCOPE = "predictions"
JOB_KIND = "prediction"  # as mlservice.job_events names this task's jobs
TASK = "predictions.tasks.run_prediction"
Status = Prediction.Status

# A job still queued is enqueued again after QUEUED_STALE_SECONDS × attempts (a growing
# wait, so a long backlog is not flooded with copies); after this many enqueues it is
# failed and refunded instead of waiting forever.
MAX_ENQUEUE_ATTEMPTS = 3
# django-q kills a task at TASK_TIMEOUT; a job still running this much later lost its
# worker (killed, or the machine died) and is failed and refunded by the sweep.
RUNNING_GRACE_SECONDS = 60


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


def _model_for_prediction(*, user, model_id: int) -> TrainedModel:
    """The model to score with: visible to the user (another user's private model is a
    404), ready and the active version; anything else is a 409 that says why."""
    try:
        model = model_get_for_user(user=user, pk=model_id)
    except Http404:
        deleted = TrainedModel.objects.filter(pk=model_id, owner=user, deleted_at__isnull=False).exists()
        if deleted:
            raise Conflict(
                "This model was deleted; it can no longer make predictions.",
                {"model": ["This model was deleted."]},
            ) from None
        raise
    if model.status != TrainedModel.Status.READY or not model.feature_schema or not model.artifact:
        message = f"Model {model} is {model.status}; only a ready model can make predictions."
        if model.status in (TrainedModel.Status.QUEUED, TrainedModel.Status.RUNNING):
            message += " Wait until its training finishes."
        raise Conflict(message, {"model": [message]})
    if not model.is_active:
        message = f"Model {model} is not the active version of {model.name}; predict with the active version."
        raise Conflict(message, {"model": [message]})
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
        checked = validate_records(inputs, schema, max_rows=limit, field_name="inputs")
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
            chunk_rows=settings.PREDICTION_CHUNK_ROWS,
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


def _replay_of_earlier_answer(*, user, key: str | None, fingerprint: str) -> IdempotentAnswer | None:
    """The first answer when this Idempotency-Key already succeeded (billing decides
    replay or 409), so a retry is neither validated nor charged again."""
    if not key or not IdempotencyKey.objects.filter(user=user, scope=IDEMPOTENCY_SCOPE, key=key).exists():
        return None

    def must_not_run() -> tuple[int, Any]:
        raise AssertionError("an answered Idempotency-Key ran its call again")

    return idempotent_call(
        user=user, scope=IDEMPOTENCY_SCOPE, key=key, fingerprint=fingerprint, call=must_not_run
    )


def _replayed(answer: IdempotentAnswer, *, user) -> Submission:
    prediction = Prediction.objects.select_related("model").get(pk=answer.body["id"], owner=user)
    return Submission(prediction=prediction, replayed=True)


def _enqueue(prediction_id: int, attempt: int) -> None:
    # The task id is recorded by the worker when it claims the job (no extra write on
    # the request's path, and it names the task that actually ran).
    enqueue_on_commit(TASK, prediction_id, task_name=f"prediction-{prediction_id}-{attempt}")


def _create_charge_enqueue(*, user, model: TrainedModel, checked: _CheckedInput) -> Prediction:
    price = model.price_per_row
    cost = cost_of(rows=checked.rows, price_per_row=price)
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
            price_per_row=price,
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
                memo=f"Prediction #{prediction.pk}: {checked.rows:,} row{'s' if checked.rows != 1 else ''} × {price.normalize():f} on {model}",
                prediction=prediction,
            )
        _enqueue(prediction.pk, 1)
    return prediction


def prediction_submit(
    *,
    user,
    model_id: int,
    inputs: Any = None,
    upload: StoredCsv | None = None,
    idempotency_key: str | None = None,
) -> Submission:
    """Check the input, then charge, create the job ``queued`` and enqueue it.

    ``inputs`` (one JSON object or a list of them) or ``upload`` (a CSV already
    streamed to storage by PredictionUploadHandler). Input errors are InvalidInput
    (400) or PayloadTooLarge (413) and charge nothing; a short balance raises
    InsufficientFunds (402) and writes nothing. The uploaded file belongs to the new
    prediction on success and is removed on any refusal or replay.
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
        earlier = _replay_of_earlier_answer(user=user, key=idempotency_key, fingerprint=fingerprint)
        if earlier is not None:
            return _replayed(earlier, user=user)

        model = _model_for_prediction(user=user, model_id=model_id)
        schema = FeatureSchema.from_dict(model.feature_schema)
        checked = _check_csv(upload, schema) if upload is not None else _check_json(inputs, schema)
        created: list[Prediction] = []

        def submit() -> tuple[int, dict]:
            prediction = _create_charge_enqueue(user=user, model=model, checked=checked)
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


def _refund(prediction_id: int, *, memo: str) -> LedgerEntry | None:
    charge = LedgerEntry.objects.filter(
        prediction_id=prediction_id, kind=LedgerEntry.Kind.PREDICTION_CHARGE
    ).first()
    if charge is None:
        return None  # a free prediction: nothing was charged
    return charge_refund(charge=charge, memo=memo)


def prediction_cancel(*, user, prediction: Prediction) -> Prediction:
    """Cancel a job that no worker has started, and refund it. 409 once it has started
    (or finished): a running job is paid for and runs to its end."""
    if prediction.owner_id != user.pk:
        raise Http404
    now = timezone.now()
    with transaction.atomic():
        moved = Prediction.objects.filter(pk=prediction.pk, status=Status.QUEUED).update(
            status=Status.CANCELED,
            finished_at=now,
            error="Canceled before it started; the cost was refunded.",
        )
        if moved:
            _refund(prediction.pk, memo=f"Refund: prediction #{prediction.pk} canceled")
            announce_finished(prediction.pk)
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


# --- The worker's moves -----------------------------------------------------------------


def prediction_start(*, prediction_id: int, task_id: str = "") -> bool:
    """Claim a queued job for this worker (queued → running). False when the job is
    not queued any more: canceled, claimed by a twin delivery, or finished."""
    moved = Prediction.objects.filter(pk=prediction_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now(), progress=0, task_id=task_id[:64]
    )
    if moved:
        job_status_moved(JOB_KIND, prediction_id, Status.QUEUED, Status.RUNNING)
    return bool(moved)


def prediction_progress(*, prediction_id: int, percent: int) -> bool:
    """Record progress; False when the job is no longer running (the sweep gave up on
    it), so the worker can stop."""
    percent = max(0, min(99, int(percent)))  # 100 only with success
    return bool(Prediction.objects.filter(pk=prediction_id, status=Status.RUNNING).update(progress=percent))


def prediction_succeed(
    *,
    prediction_id: int,
    result_file: str,
    results: list[dict[str, Any]] | None,
    scoring_seconds: float,
) -> bool:
    """running → succeeded. False when the job had already been failed by the sweep:
    it was refunded, so its late result must not be kept."""
    moved = Prediction.objects.filter(pk=prediction_id, status=Status.RUNNING).update(
        status=Status.SUCCEEDED,
        progress=100,
        result_file=result_file,
        results=results,
        scoring_seconds=scoring_seconds,
        finished_at=timezone.now(),
        error="",
    )
    if moved:
        announce_finished(prediction_id)
        job_status_moved(JOB_KIND, prediction_id, Status.RUNNING, Status.SUCCEEDED)
    return bool(moved)


def prediction_fail(
    *, prediction_id: int, error: str, from_status: str = Status.RUNNING, **match: Any
) -> bool:
    """Move the job from ``from_status`` to failed and refund it in full, in one
    transaction. False (and no refund) when the job had moved on already."""
    with transaction.atomic():
        moved = Prediction.objects.filter(pk=prediction_id, status=from_status, **match).update(
            status=Status.FAILED, error=error[:4000], finished_at=timezone.now()
        )
        if moved:
            _refund(prediction_id, memo=f"Refund: prediction #{prediction_id} failed")
            announce_finished(prediction_id)
    if moved:
        job_status_moved(JOB_KIND, prediction_id, from_status, Status.FAILED)
    return bool(moved)


# --- The sweep ------------------------------------------------------------------------------


@dataclass
class SweepReport:
    failed_running: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed_queued: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return {
            "failed_running": self.failed_running,
            "requeued": self.requeued,
            "failed_queued": self.failed_queued,
        }

    def __str__(self) -> str:
        return (
            f"failed {len(self.failed_running)} stuck running, re-enqueued {len(self.requeued)}, "
            f"failed {len(self.failed_queued)} never started"
        )


def prediction_sweep_run(*, now=None) -> SweepReport:
    """Make sure no job stays queued or running forever.

    (a) running past the task timeout: its worker died → failed and refunded.
    (b) queued for QUEUED_STALE_SECONDS × attempts since it was last enqueued: its task
        may be lost (Redis has no delivery receipts; a web process may die between
        commit and enqueue) → enqueued again; a copy that arrives late finds the job
        claimed and does nothing. After MAX_ENQUEUE_ATTEMPTS → failed and refunded.
    """
    now = now or timezone.now()
    report = SweepReport()
    timeout = timedelta(seconds=settings.TASK_TIMEOUT + RUNNING_GRACE_SECONDS)
    stuck = Prediction.objects.filter(status=Status.RUNNING, started_at__lt=now - timeout)
    minutes = round(timeout.total_seconds() / 60)
    for prediction_id in stuck.values_list("pk", flat=True):
        error = (
            f"The worker scoring this prediction stopped responding (no result after {minutes} minutes). "
            "The cost was refunded; please submit it again."
        )
        if prediction_fail(prediction_id=prediction_id, error=error):
            report.failed_running.append(prediction_id)

    stale = timedelta(seconds=settings.QUEUED_STALE_SECONDS)
    waiting = Prediction.objects.filter(status=Status.QUEUED).filter(
        Q(enqueued_at__lt=now - stale) | Q(enqueued_at__isnull=True, created_at__lt=now - stale)
    )
    for prediction_id, attempts, enqueued_at, created_at in waiting.values_list(
        "pk", "attempts", "enqueued_at", "created_at"
    ):
        if now - (enqueued_at or created_at) < stale * max(attempts, 1):
            continue
        if attempts >= MAX_ENQUEUE_ATTEMPTS:
            error = (
                "No worker started this prediction in time (the service may be overloaded). "
                "The cost was refunded; please submit it again."
            )
            if prediction_fail(
                prediction_id=prediction_id, error=error, from_status=Status.QUEUED, attempts=attempts
            ):
                report.failed_queued.append(prediction_id)
            continue
        with transaction.atomic():
            moved = Prediction.objects.filter(
                pk=prediction_id, status=Status.QUEUED, attempts=attempts
            ).update(attempts=F("attempts") + 1, enqueued_at=now)
            if moved:
                _enqueue(prediction_id, attempts + 1)
                report.requeued.append(prediction_id)
    if report.failed_running or report.requeued or report.failed_queued:
        logger.warning("prediction sweep: %s", report)
    return report


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
    media = Path(settings.MEDIA_ROOT)
    expired = []
    for prediction_id, input_file, result_file in due.values_list("pk", "input_file", "result_file")[:batch]:
        for name in (input_file, result_file):
            if name:
                (media / name).unlink(missing_ok=True)
        if Prediction.objects.filter(pk=prediction_id, files_deleted_at__isnull=True).update(
            files_deleted_at=now
        ):
            expired.append(prediction_id)
    if expired:
        logger.info("deleted the files of %d predictions older than %d days", len(expired), days)
    return expired


def prediction_cost(*, rows: int, price_per_row: Decimal) -> Decimal:
    """The cost quoted before submitting: the same rule the charge uses."""
    return cost_of(rows=rows, price_per_row=price_per_row)

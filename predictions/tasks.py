"""Worker side of predictions (django-q2 tasks; they receive ids only).

``run_prediction`` claims its job (queued → running) before anything else, so a task
delivered twice, or a job canceled meanwhile, does nothing. Scoring happens outside
any transaction; only the status moves (in predictions.services) touch the database.

Each worker process keeps the pipelines it loaded in a small LRU cache keyed by the
artifact's SHA-256: loading verifies the file's hash and unpickles it (tens to hundreds
of milliseconds), which would otherwise dominate a one-row prediction.
"""

from __future__ import annotations

import csv
import functools
import logging
import math
import os
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from core.counters import model_cache_counter, record_model_cache
from core.files import make_shared_folder, share_file, shared_file_mode
from core.jobs.fairness import defer_for_fairness, queued_job
from core.logs import current_task_id
from core.storage import StagedFile, StorageUnavailable, local_copy
from mlmodels.ml.artifacts import LoadedArtifact
from mlmodels.ml.errors import InputError, MLError
from mlmodels.ml.inputs import frame_from_records, validate_frame
from mlmodels.ml.scoring import (
    neutralise_formulas,
    predict_frame,
    records_from_predictions,
    score_csv,
    unique_output_names,
)
from mlmodels.models import TrainedModel
from mlmodels.selectors import NOT_READ_TO_PREDICT
from mlmodels.services.files import load_stored_artifact
from monitoring.services import PredictionObserver
from predictions import services
from predictions.coerced import coerced_from_json
from predictions.jobs import PREDICTION
from predictions.models import Prediction
from predictions.uploads import result_relative_path

logger = logging.getLogger(__name__)

# --- The model cache ----------------------------------------------------------------------

_cache: OrderedDict[str, LoadedArtifact] = OrderedDict()
_cache_lock = threading.Lock()
# This process's own counts (the service-wide totals are operations.metrics' counters).
cache_hits = 0
cache_misses = 0


def loaded_model(model: TrainedModel) -> tuple[LoadedArtifact, bool]:
    """The model's pipeline and schema, from this process's cache or loaded (and
    hash-verified) from its artifact, and whether it was cached. Raises ArtifactError."""
    global cache_hits, cache_misses
    key = model.artifact_sha256
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            cache_hits += 1
            return cached, True
    loaded = load_stored_artifact(model.artifact, sha256=key)  # fetched only on a miss
    with _cache_lock:
        cache_misses += 1
        _cache[key] = loaded
        _cache.move_to_end(key)
        while len(_cache) > settings.MODEL_CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded, False


def cache_clear() -> None:
    global cache_hits, cache_misses
    with _cache_lock:
        _cache.clear()
        cache_hits = cache_misses = 0


# --- Scoring ------------------------------------------------------------------------------


class JobTakenAway(Exception):
    """The job stopped being ``running`` under us (the sweep failed and refunded it)."""


# Cells starting with one of these may be spreadsheet formulas; only those are handed
# to the engine's neutralise_formulas, which decides (a plain "-1.5" is left alone).
_MAYBE_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON spells it
    return value


def _neutralised(rows: list[list[Any]]) -> list[list[Any]]:
    suspects = [
        (row_number, column)
        for row_number, row in enumerate(rows)
        for column, value in enumerate(row)
        if isinstance(value, str) and value.startswith(_MAYBE_FORMULA)
    ]
    if suspects:
        values = np.array([rows[row][column] for row, column in suspects], dtype=object)
        for (row, column), value in zip(suspects, neutralise_formulas(values), strict=True):
            rows[row][column] = value
    return rows


def _write_json_result(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """The result file of JSON input, written with the csv module: for the small
    frames JSON input allows this is several times faster than pandas, which matters
    for one-row predictions. Written to a temporary file and renamed into place."""
    make_shared_folder(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".scoring-", suffix=".csv.part")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as output:
            writer = csv.writer(output, lineterminator="\n")
            writer.writerow(_neutralised([header])[0])
            writer.writerows(_neutralised(rows))
        share_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _coerced(prediction: Prediction, schema) -> pd.DataFrame:
    """The job's rows as the schema's coercion leaves them: as stored at submit, or
    coerced again if what was stored does not fit."""
    records = prediction.inputs
    coerced = coerced_from_json(prediction.coerced_inputs, schema)
    if coerced is None or len(coerced) != len(records):
        coerced = validate_frame(frame_from_records(records), schema, max_rows=max(len(records), 1)).frame
    return coerced


class _Predicted:
    """A predicted frame as plain Python, converted once: its column names, each row's
    values, and the inline results (``records_from_predictions``); ``part`` takes a
    job's rows out of a batch's."""

    def __init__(self, predicted: pd.DataFrame, schema) -> None:
        self.columns = [str(name) for name in predicted.columns]
        self.values = predicted.to_numpy(dtype=object).tolist()
        self._frame, self._schema = predicted, schema

    @functools.cached_property
    def results(self) -> list[dict[str, Any]]:  # only when some job shows them inline
        return records_from_predictions(self._frame, self._schema)

    def part(self, start: int, stop: int) -> _Predicted:
        part = object.__new__(_Predicted)
        part.columns, part.values = self.columns, self.values[start:stop]
        part.__dict__["results"] = self.results[start:stop]
        return part


def _json_outcome(
    prediction: Prediction, predicted: _Predicted, scoring_seconds: float, result_path: Path
) -> dict[str, Any]:
    """The inline results and the result file of a JSON job from its predictions."""
    records = prediction.inputs
    results = predicted.results if len(records) <= settings.PREDICTION_INLINE_ROWS else None
    # The download: the input columns as sent (in the order sent), then ours.
    columns = list(dict.fromkeys(str(name) for record in records for name in record))
    if prediction.input_columns and set(prediction.input_columns) == set(columns):
        columns = list(prediction.input_columns)
    ours = unique_output_names(predicted.columns, set(columns))
    rows = [
        [_cell(record.get(name)) for name in columns] + [_cell(value) for value in predicted.values[number]]
        for number, record in enumerate(records)
    ]
    _write_json_result(result_path, columns + ours, rows)
    return {"results": results, "scoring_seconds": scoring_seconds}


def _score_json(
    prediction: Prediction, artifact: LoadedArtifact, result_path: Path, observer: PredictionObserver
) -> dict[str, Any]:
    schema = artifact.feature_schema
    coerced = _coerced(prediction, schema)
    started = time.perf_counter()
    predicted = predict_frame(artifact.pipeline, coerced, schema)
    scoring_seconds = time.perf_counter() - started
    observer.observe(coerced, predicted)
    return _json_outcome(prediction, _Predicted(predicted, schema), scoring_seconds, result_path)


def _score_csv(
    prediction: Prediction, artifact: LoadedArtifact, result_path: Path, observer: PredictionObserver
) -> dict[str, Any]:
    make_shared_folder(result_path.parent)

    def progress(rows_done: int, total_rows: int) -> None:
        total = total_rows or prediction.rows
        if not services.prediction_progress(prediction_id=prediction.pk, percent=rows_done * 100 // total):
            raise JobTakenAway()

    with local_copy(prediction.input_file.name) as input_path:
        summary = score_csv(
            artifact.pipeline,
            artifact.feature_schema,
            input_path,
            result_path,
            chunk_rows=settings.PREDICTION_CHUNK_ROWS,
            progress=progress,
            total_rows=prediction.rows,
            file_mode=shared_file_mode(),
            observe=observer.observe,
            threads=settings.PREDICTION_SCORING_THREADS,
        )
    return {"results": None, "scoring_seconds": summary.scoring_seconds}


def _readable(error: BaseException) -> str:
    """What the user reads on a failed job: the engine's own words for problems it
    knows, never a traceback."""
    if isinstance(error, MLError):
        return error.readable() + " The cost was refunded."
    if isinstance(error, FileNotFoundError):
        return "The input file of this prediction is missing from storage. The cost was refunded."
    if isinstance(error, StorageUnavailable):
        return "The file storage was unavailable. The cost was refunded."
    if isinstance(error, MemoryError):
        return "Scoring ran out of memory. The cost was refunded."
    return "Scoring failed because of an internal error (it was logged). The cost was refunded."


def _count_cache_lookup(hit: bool | None) -> None:
    # Counted once the job's outcome is recorded: off the path of a waiting request.
    if hit is not None:
        record_model_cache(hit=hit)


def _prediction_rows():
    # Everything of the job; of its model only what scoring reads.
    return Prediction.objects.select_related("model").defer(
        *(f"model__{name}" for name in (*NOT_READ_TO_PREDICT, "feature_schema"))
    )


def run_prediction(prediction_id: int) -> str:
    """Score one prediction job: claim it, score it, record success or failure (with
    a full refund). A small JSON job takes other queued small JSON jobs of the same
    model along and scores them in one call (``_run_batch``). Safe to run any number
    of times: a job claimed by an earlier task or by another job's batch is left alone."""
    # A job taken along by another job's batch is left alone after one small read.
    found = queued_job(PREDICTION, prediction_id)
    if found is None:
        return f"prediction {prediction_id} is not queued; nothing to do"
    if defer_for_fairness(PREDICTION, prediction_id, found=found):
        return f"prediction {prediction_id} deferred: another user's job ran first"
    # Read before the claim (what it reads does not change once a job is submitted), so
    # the claim need not read when it was created.
    prediction = _prediction_rows().filter(pk=prediction_id).first()
    if prediction is None:
        return f"prediction {prediction_id} is not queued; nothing to do"
    task_id = current_task_id()
    if not services.prediction_claim(
        prediction_id=prediction_id, task_id=task_id, created_at=prediction.created_at
    ):
        return f"prediction {prediction_id} is not queued; nothing to do"
    if _batchable(prediction):
        more = services.prediction_claim_batch(
            model_id=prediction.model_id,
            max_rows=BATCH_MAX_ROWS,
            limit=settings.PREDICTION_BATCH_JOBS - 1,
            task_id=task_id,
        )
        if more:
            batch = [prediction, *_prediction_rows().filter(pk__in=more).order_by("pk")]
            return _run_batch(batch)
    return _run_claimed(prediction)


def _run_claimed(prediction: Prediction) -> str:
    """Score one claimed job alone and record its outcome."""
    prediction_id = prediction.pk
    # Written locally (on local disk: in place), then stored before the job succeeds.
    result = StagedFile(result_relative_path(owner_id=prediction.owner_id, token=prediction.token))
    result_path = result.path
    cache_hit = None
    try:
        artifact, cache_hit = loaded_model(prediction.model)
        # Samples the inputs and counts the outputs for drift and /metrics; never raises.
        observer = PredictionObserver(model_id=prediction.model_id, schema=artifact.feature_schema)
        if prediction.input_kind == Prediction.InputKind.JSON:
            outcome = _score_json(prediction, artifact, result_path, observer)
        else:
            outcome = _score_csv(prediction, artifact, result_path, observer)
        relative = result.store()
    except JobTakenAway:
        result.discard()
        _count_cache_lookup(cache_hit)
        return f"prediction {prediction_id} was failed by the sweep while it ran"
    except Exception as error:
        message = _failed(prediction_id, error, result, cache_hit)
        if _unexpected(error):
            raise  # django-q records the task as failed: operators see it
        return message
    succeeded = services.prediction_succeed(
        prediction_id=prediction_id,
        result_file=relative,
        counters={model_cache_counter(cache_hit): 1},
        **outcome,
    )
    if not succeeded:
        result.discard()
        return f"prediction {prediction_id} was failed by the sweep before it finished"
    # After the job succeeded: a waiting request has its answer already.
    observer.record()
    return f"prediction {prediction_id} succeeded"


def _unexpected(error: Exception) -> bool:
    """An error that is not the input's fault: for operators too (logged, and the task
    is recorded as failed once every job of it has its outcome)."""
    return not isinstance(error, (InputError, FileNotFoundError))


def _failed(prediction_id: int, error: Exception, result: StagedFile, cache_hit) -> str:
    """Fail (and refund) a job whose scoring raised ``error``."""
    result.discard()
    services.prediction_fail(prediction_id=prediction_id, error=_readable(error))
    _count_cache_lookup(cache_hit)
    if not _unexpected(error):
        return f"prediction {prediction_id} failed: {_readable(error)}"
    logger.exception("prediction %s failed", prediction_id, exc_info=error)
    return f"prediction {prediction_id} failed: {error!r}"


class _Outcomes:
    """The messages of a batch's jobs, and the first unexpected error among them:
    raised once every job has its outcome, so django-q records the task as failed."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.unexpected: Exception | None = None

    def failed(self, error: Exception, message: str) -> None:
        self.messages.append(message)
        if self.unexpected is None and _unexpected(error):
            self.unexpected = error

    def joined(self, prefix: str = "") -> str:
        if self.unexpected is not None:
            raise self.unexpected
        return prefix + "; ".join(self.messages)


# --- Several small jobs of one model in one call -----------------------------------------------

# A JSON job of at most this many rows may be scored together with others.
BATCH_MAX_ROWS = 100


def _batchable(prediction: Prediction) -> bool:
    return (
        settings.PREDICTION_BATCH_JOBS > 1
        and prediction.input_kind == Prediction.InputKind.JSON
        and prediction.rows <= BATCH_MAX_ROWS
    )


def _run_batch(batch: list[Prediction]) -> str:
    """Score claimed small JSON jobs of one model in one ``predict_frame`` call, then
    give each job its own result, file and success, exactly as if it had been scored
    alone (a row's prediction does not depend on the rows beside it). If the batch
    cannot be scored as one (a job's stored values do not fit, the model does not
    load, scoring raises), every job is scored alone, so each gets its own outcome."""
    try:
        artifact, cache_hit = loaded_model(batch[0].model)
        schema = artifact.feature_schema
        coerced = pd.concat([_coerced(prediction, schema) for prediction in batch], ignore_index=True)
        started = time.perf_counter()
        predicted = predict_frame(artifact.pipeline, coerced, schema)
        seconds = time.perf_counter() - started
    except Exception:
        logger.warning("a batch of %d predictions is scored job by job", len(batch), exc_info=True)
        return _each_alone(batch)
    observer = PredictionObserver(model_id=batch[0].model_id, schema=schema)
    observer.observe(coerced, predicted)
    predicted = _Predicted(predicted, schema)
    total_rows = len(coerced)
    outcomes = _Outcomes()
    first = 0
    counters = {model_cache_counter(cache_hit): 1}  # one lookup for the batch
    for prediction in batch:
        rows = len(prediction.inputs)
        part = predicted.part(first, first + rows)
        first += rows
        result = StagedFile(result_relative_path(owner_id=prediction.owner_id, token=prediction.token))
        try:
            outcome = _json_outcome(prediction, part, seconds * rows / total_rows, result.path)
            relative = result.store()
        except Exception as error:
            outcomes.failed(error, _failed(prediction.pk, error, result, None))
            continue
        if services.prediction_succeed(
            prediction_id=prediction.pk, result_file=relative, counters=counters, **outcome
        ):
            counters = None
            outcomes.messages.append(f"prediction {prediction.pk} succeeded")
        else:
            result.discard()
            outcomes.messages.append(f"prediction {prediction.pk} was failed by the sweep before it finished")
    if counters is not None:
        _count_cache_lookup(cache_hit)
    observer.record()
    return outcomes.joined(f"batch of {len(batch)}: ")


def _each_alone(batch: list[Prediction]) -> str:
    outcomes = _Outcomes()
    for prediction in batch:
        try:
            outcomes.messages.append(_run_claimed(prediction))
        except Exception as error:  # the job is failed and refunded already
            outcomes.failed(error, f"prediction {prediction.pk} failed: {error!r}")
    return outcomes.joined()

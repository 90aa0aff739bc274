"""Everything monitoring writes: a model's training reference (when it becomes ready)
and, after each prediction, its sample of predicted rows and its prediction tallies.

Monitoring must never fail or slow a prediction or a training: each entry point
catches whatever goes wrong, logs it and counts it (``monitoring_errors`` on /metrics),
and the prediction's writes happen after its job has succeeded, off the path of a
waiting request."""

from __future__ import annotations

import bisect
import logging
import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from core.counters import counter_increment
from mlmodels.ml.schema import FeatureSchema, coerce_frame
from monitoring import distributions
from monitoring.models import PredictionSample, PredictionSampleRow, PredictionTally, TrainingReference
from monitoring.psi import drift_by_feature
from monitoring.sampling import RowSample, merge_plan

logger = logging.getLogger(__name__)

MONITORING_ERRORS = "monitoring_errors"
# Training rows a reference is computed from: deciles and shares of 100,000 rows are
# as good as those of a million, at a tenth of the time.
REFERENCE_MAX_ROWS = 100_000
# The stored worst PSI is recomputed once this share of the sample changed.
PSI_REFRESH_SHARE = 0.05
PREDICTION_COLUMN = "prediction"
# Chunks up to this many rows are observed in plain Python (see _observe_few).
FEW_ROWS = 1000


def _count_failure(what: str, model_id: int) -> None:
    logger.exception("monitoring: %s failed for model %s", what, model_id)
    try:
        with transaction.atomic():
            counter_increment(name=MONITORING_ERRORS)
    except DatabaseError:
        logger.warning("monitoring: failure of %s for model %s not counted", what, model_id)


# --- The training reference ------------------------------------------------------------------


def training_reference_build(frame: pd.DataFrame, schema: FeatureSchema, *, seed: int = 0) -> dict[str, Any]:
    """The reference of a training table (raw values, as read from its CSV): each
    feature coerced as scoring coerces it, then summarised on its drift bins."""
    if len(frame) > REFERENCE_MAX_ROWS:
        frame = frame.sample(n=REFERENCE_MAX_ROWS, random_state=seed)
    coerced, _, _ = coerce_frame(frame, schema.features)
    features = [
        {
            "name": feature.name,
            **distributions.feature_reference(coerced[feature.name].to_numpy(), feature.kind),
        }
        for feature in schema.features
    ]
    target_values = frame[schema.target].tolist() if schema.target in frame.columns else []
    if schema.task != "classification":
        target_values = pd.to_numeric(pd.Series(target_values, dtype=object), errors="coerce").tolist()
    target = distributions.target_reference(target_values, task=schema.task, classes=schema.classes)
    return {"features": features, "target": target, "rows": len(frame)}


def training_reference_record(*, model_id: int, frame: pd.DataFrame, schema: FeatureSchema) -> None:
    """Keep the training reference of a model that has just been trained. Never raises."""
    try:
        reference = training_reference_build(frame, schema, seed=model_id)
        TrainingReference.objects.update_or_create(model_id=model_id, defaults=reference)
    except Exception:
        _count_failure("the training reference", model_id)


# --- After each prediction ---------------------------------------------------------------------


def _edges_for(model_id: int) -> list[float]:
    """A regressor's histogram bounds: one small read per prediction."""
    target = TrainingReference.objects.filter(model_id=model_id).values_list("target", flat=True).first()
    return distributions.value_edges(target)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and value != value else value
    return value


class PredictionObserver:
    """Follows one prediction: ``observe`` each scored chunk (coerced inputs and the
    engine's prediction frame), then ``record`` once the job succeeded. Holds at most
    DRIFT_SAMPLE_ROWS rows and a few counts, whatever the size of the input."""

    def __init__(self, *, model_id: int, schema: FeatureSchema, seed: int | None = None) -> None:
        self.model_id = model_id
        self.names = schema.feature_names
        self.task = schema.task
        self.positions = {str(value): position for position, value in enumerate(schema.classes or [])}
        self.rng = np.random.default_rng(seed)
        self.sample = RowSample(capacity=settings.DRIFT_SAMPLE_ROWS, rng=self.rng)
        self.tallies: Counter[str] = Counter()
        self.value_sum = 0.0
        self.failed = False
        self.edges: list[float] = []
        if self.task != "classification":
            try:
                self.edges = _edges_for(model_id)
            except Exception:
                self._fail("reading the histogram bounds")

    def _fail(self, what: str) -> None:
        self.failed = True
        _count_failure(what, self.model_id)

    def observe(self, coerced: pd.DataFrame, predicted: pd.DataFrame) -> None:
        """One scored chunk. Never raises; after a failure it stops observing."""
        if self.failed:
            return
        try:
            self._observe(coerced, predicted)
        except Exception:
            self._fail("sampling a prediction")

    def _observe_few(self, coerced: pd.DataFrame, predicted: pd.DataFrame) -> None:
        # A few rows (JSON input): plain Python, since each pandas call costs more than
        # the rows themselves; a one-row prediction pays tens of microseconds.
        labels = predicted[PREDICTION_COLUMN].tolist()
        inputs = coerced if list(coerced.columns) == self.names else coerced[self.names]
        rows = [[_plain(value) for value in row] for row in inputs.to_numpy(dtype=object).tolist()]
        if self.task == "classification":
            outputs = [self.positions.get(str(_plain(label))) for label in labels]
            self.tallies.update(
                distributions.class_key(position) for position in outputs if position is not None
            )
        else:
            outputs = [_plain(label) for label in labels]
            present = [value for value in outputs if value is not None and math.isfinite(value)]
            for value in present:
                self.tallies[f"b{bisect.bisect_left(self.edges, value)}"] += 1
            self.value_sum += math.fsum(present)
        self.sample.offer(len(rows), lambda positions: [[rows[i], outputs[i]] for i in positions.tolist()])

    def _observe(self, coerced: pd.DataFrame, predicted: pd.DataFrame) -> None:
        if len(predicted) <= FEW_ROWS:
            self._observe_few(coerced, predicted)
            return
        # Vectorised: a 100,000-row chunk costs milliseconds, not a Python loop per row.
        values = predicted[PREDICTION_COLUMN]
        if self.task == "classification":
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            # The class position of each distinct label (-1: not one of the classes).
            known = np.array([self.positions.get(str(_plain(label)), -1) for label in uniques] + [-1])
            outputs = known[codes]  # code -1 (missing) picks the trailing -1
            counted = np.bincount(outputs[outputs >= 0], minlength=0)
            for position, count in enumerate(counted.tolist()):
                if count:
                    self.tallies[distributions.class_key(position)] += count
        else:
            outputs = values.to_numpy(dtype="float64")
            present = outputs[np.isfinite(outputs)]
            buckets = np.searchsorted(np.asarray(self.edges), present, side="left")
            for bucket, count in enumerate(np.bincount(buckets, minlength=len(self.edges) + 1).tolist()):
                if count:
                    self.tallies[f"b{bucket}"] += count
            self.value_sum += float(present.sum())
        inputs = coerced[self.names]

        def rows_at(positions: np.ndarray) -> list[list[Any]]:
            picked = inputs.iloc[positions].to_numpy(dtype=object).tolist()
            predictions = outputs[positions].tolist()
            if self.task == "classification":
                predictions = [None if position < 0 else position for position in predictions]
            return [
                [[_plain(value) for value in row], _plain(prediction)]
                for row, prediction in zip(picked, predictions, strict=True)
            ]

        self.sample.offer(len(inputs), rows_at)

    def record(self) -> None:
        """Fold this prediction into the model's sample and tallies. Never raises."""
        if self.failed or not self.sample.seen:
            return
        try:
            with transaction.atomic():
                self._record()
        except Exception:
            self._fail("recording a prediction")

    def _record(self) -> None:
        # The lock serialises the workers folding predictions of one model.
        state = PredictionSample.objects.select_for_update().filter(model_id=self.model_id).first()
        if state is None:  # the model's first prediction
            PredictionSample.objects.get_or_create(model_id=self.model_id, defaults={"features": self.names})
            state = PredictionSample.objects.select_for_update().get(model_id=self.model_id)
        capacity = settings.DRIFT_SAMPLE_ROWS
        if state.features != self.names or state.size > capacity:
            # Another feature list (or a smaller sample asked for): start again.
            PredictionSampleRow.objects.filter(model_id=self.model_id).delete()
            state.seen, state.size, state.features, state.psi_max = 0, 0, self.names, None
        plan = merge_plan(
            capacity=capacity,
            seen=state.seen,
            offered=self.sample.seen,
            sample_size=len(self.sample.rows),
            rng=self.rng,
        )
        rows = [
            PredictionSampleRow(
                model_id=self.model_id,
                slot=slot,
                values=self.sample.rows[take][0],
                prediction=self.sample.rows[take][1],
            )
            for slot, take in zip(plan.slots, plan.take, strict=True)
        ]
        PredictionSampleRow.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["model", "slot"],
            update_fields=["values", "prediction"],
        )
        state.seen += self.sample.seen
        state.size = plan.size
        state.changed_since_psi += len(rows)
        if state.size >= settings.DRIFT_MIN_ROWS and (
            state.psi_max is None or state.changed_since_psi >= capacity * PSI_REFRESH_SHARE
        ):
            state.psi_max = worst_psi(model_id=self.model_id)
            state.changed_since_psi = 0
        state.save(update_fields=["seen", "size", "features", "psi_max", "changed_since_psi", "updated_at"])
        self._add_tallies()

    def _add_tallies(self) -> None:
        counts = dict(self.tallies)
        sums: dict[str, float] = {}
        if self.task != "classification":
            counts["sum"] = sum(self.tallies.values())
            sums["sum"] = self.value_sum
        rows = sorted((key, count, sums.get(key, 0.0)) for key, count in counts.items())
        if not rows:
            return
        # One upsert, in key order (two workers raising the same tallies lock them in
        # the same order); plain SQL, as core.counters, since it runs per prediction.
        quote = connection.ops.quote_name
        table = quote(PredictionTally._meta.db_table)
        model, key, count, total = (quote(name) for name in ("model_id", "key", "count", "total"))
        placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({model}, {key}, {count}, {total}) VALUES {placeholders} "
                f"ON CONFLICT ({model}, {key}) DO UPDATE SET {count} = {table}.{count} + excluded.{count}, "
                f"{total} = {table}.{total} + excluded.{total}",
                [value for row in rows for value in (self.model_id, *row)],
            )


def worst_psi(*, model_id: int) -> float | None:
    """The highest PSI over the model's features on its current sample (None without a
    reference)."""
    reference = TrainingReference.objects.filter(model_id=model_id).first()
    if reference is None or not reference.features:
        return None
    rows = list(PredictionSampleRow.objects.filter(model_id=model_id).values_list("values", flat=True))
    drifts = drift_by_feature([(feature["name"], feature) for feature in reference.features], rows)
    return drifts[0].psi if drifts else None

"""Operator reads across apps, for /metrics and the admin's operations dashboard.

/metrics reads running totals (shared counters raised as jobs move and coins are
posted) and counts only the jobs in flight; it never aggregates a whole table. The
dashboard's charts are database aggregates (COUNT/SUM, GROUP BY) bounded by time
(the last hours and days), and no row is loaded into Python. Durations are compared
as ``end <= start + bound`` so the same expressions work on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate, TruncHour

from billing.models import LedgerEntry
from core.counters import counter_family
from core.jobs.counts import ABOVE_EVERY_BOUND
from core.jobs.kinds import SHORT_BUCKETS
from core.models import ServiceCounter
from mlmodels.models import Experiment, TrainedModel
from predictions.models import Prediction

# The dashboard's queue-wait buckets: the same as the jobs' own (core.jobs.kinds).
QUEUE_WAIT_BUCKETS = SHORT_BUCKETS

TRAINING_FINISHED = (TrainedModel.Status.READY, TrainedModel.Status.FAILED)


@dataclass(frozen=True)
class Histogram:
    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]  # observations ≤ each bound
    count: int
    sum_seconds: float

    def quantile(self, q: float) -> float | None:
        """Estimated like Prometheus' histogram_quantile: linear inside the bucket the
        rank falls in; the largest bound when it falls above every bound."""
        if self.count == 0:
            return None
        rank = q * self.count
        lower_bound, lower_count = 0.0, 0
        for bound, cumulative in zip(self.bounds, self.cumulative, strict=True):
            if cumulative >= rank:
                if cumulative == lower_count:
                    return float(bound)
                return lower_bound + (bound - lower_bound) * (rank - lower_count) / (cumulative - lower_count)
            lower_bound, lower_count = float(bound), cumulative
        return float(self.bounds[-1])


def _elapsed(start: str, end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _bucket_index(start: str, end: str, bounds: Sequence[float]) -> Case:
    """The index of the first bucket ``end - start`` fits in (len(bounds) above all):
    one CASE per row, so a scan costs the same whatever the number of buckets."""
    return Case(
        *[
            When(**{f"{end}__lte": F(start) + timedelta(seconds=bound)}, then=Value(index))
            for index, bound in enumerate(bounds)
        ],
        default=Value(len(bounds)),
        output_field=IntegerField(),
    )


def histograms_by(
    queryset: QuerySet,
    *,
    start: str,
    end: str,
    bounds: Sequence[float],
    group_by: Sequence[str] = (),
) -> dict[tuple, Histogram]:
    """Histograms of ``end - start`` over the rows where both are set, one per value of
    the ``group_by`` fields (keys are tuples of those values; ``()`` without grouping).
    One query: GROUP BY group and bucket, so at most groups × buckets rows come back."""
    rows = (
        queryset.order_by()
        .filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
        .annotate(bucket=_bucket_index(start, end, bounds))
        .values(*group_by, "bucket")
        .annotate(observations=Count("pk"), seconds=Sum(_elapsed(start, end)))
    )
    counts: dict[tuple, list[int]] = {}
    sums: dict[tuple, float] = {}
    for row in rows:
        key = tuple(row[field] for field in group_by)
        counts.setdefault(key, [0] * (len(bounds) + 1))[row["bucket"]] += row["observations"]
        sums[key] = sums.get(key, 0.0) + (row["seconds"].total_seconds() if row["seconds"] else 0.0)
    return {
        key: Histogram(
            bounds=tuple(bounds),
            cumulative=tuple(itertools.accumulate(per_bucket[:-1])),
            count=sum(per_bucket),
            sum_seconds=sums[key],
        )
        for key, per_bucket in counts.items()
    }


# --- Running totals (shared counters) ------------------------------------------------------

Series = dict[str, list[tuple[dict[str, str], int]]]


def counter_series() -> Series:
    """Every shared counter, by family: ``{family: [(labels, value), ...]}``. One query
    over a table of a few hundred rows (core.jobs.counts, billing's ledger totals, the
    model cache), however many jobs and entries there are."""
    series: Series = {}
    for name, value in ServiceCounter.objects.values_list("name", "value"):
        family, labels = counter_family(name)
        series.setdefault(family, []).append((labels, value))
    return series


def series_values(series: Series, family: str, **match: str) -> list[tuple[dict[str, str], int]]:
    """The counters of ``family`` whose labels include ``match``."""
    return [
        (labels, value)
        for labels, value in series.get(family, [])
        if all(labels.get(label) == wanted for label, wanted in match.items())
    ]


def counted_histogram(
    series: Series, *, buckets: str, milliseconds: str, bounds: Sequence[float], **match: str
) -> Histogram:
    """A histogram from per-bucket counters (``le`` label, not cumulative) and a sum in
    milliseconds. A bucket whose bound is not among ``bounds`` (the bounds changed
    since it was counted) falls in the first bound above it."""
    observations = series_values(series, buckets, **match)
    cumulative = tuple(
        sum(
            value
            for labels, value in observations
            if labels["le"] != ABOVE_EVERY_BOUND and float(labels["le"]) <= bound
        )
        for bound in bounds
    )
    milliseconds_total = sum(value for _, value in series_values(series, milliseconds, **match))
    return Histogram(
        bounds=tuple(bounds),
        cumulative=cumulative,
        count=sum(value for _, value in observations),
        sum_seconds=milliseconds_total / 1000,
    )


def model_names(model_ids: Iterable[int], *, private: bool) -> dict[int, str]:
    """ "name vN" of each trained model (deleted ones too): one query. Private models'
    names only when ``private``: the others are left out (the caller shows their id)."""
    models = TrainedModel.objects.filter(pk__in=set(model_ids))
    if not private:
        models = models.filter(is_public=True)
    return {pk: f"{name} v{version}" for pk, name, version in models.values_list("pk", "name", "version")}


def model_classes(model_ids: Iterable[int]) -> dict[int, list]:
    """The classes of each classifier among ``model_ids`` (feature schema order): one query."""
    models = TrainedModel.objects.filter(pk__in=set(model_ids))
    return {
        pk: list((schema or {}).get("classes") or [])
        for pk, schema in models.values_list("pk", "feature_schema")
    }


def jobs_in_flight() -> list[dict]:
    """Jobs queued or running now: ``[{"kind", "status", "count"}]`` (a small GROUP BY
    per kind over the status index)."""
    rows = []
    kinds = (
        ("prediction", Prediction.objects),
        ("training", TrainedModel.objects),
        ("experiment", Experiment.objects),
    )
    for kind, queryset in kinds:
        grouped = (
            queryset.order_by()
            .filter(status__in=("queued", "running"))
            .values("status")
            .annotate(count=Count("pk"))
            .order_by("status")
        )
        rows += [{"kind": kind, "status": row["status"], "count": row["count"]} for row in grouped]
    return rows


def counter_values(*, prefix: str = "") -> dict[str, int]:
    return dict(ServiceCounter.objects.filter(name__startswith=prefix).values_list("name", "value"))


# --- The operations dashboard -------------------------------------------------------------


def _hours(now: datetime, count: int) -> list[datetime]:
    last = now.replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=count - 1 - index) for index in range(count)]


def _days(now: datetime, count: int) -> list:
    today = now.date()
    return [today - timedelta(days=count - 1 - index) for index in range(count)]


def _per_hour(queryset: QuerySet, field: str, since: datetime, **aggregates) -> dict[datetime, dict]:
    rows = (
        queryset.order_by()
        .filter(**{f"{field}__gte": since})
        .annotate(hour=TruncHour(field))
        .values("hour")
        .annotate(**aggregates)
    )
    return {row["hour"]: row for row in rows}


def dashboard_data(*, now: datetime, hours: int = 48, days: int = 30, top: int = 10) -> dict:
    """Everything the operations dashboard draws, as plain lists for json_script.
    ``now`` is an aware datetime in the current time zone (hours and days follow it)."""
    hour_slots = _hours(now, hours)
    since_hours = hour_slots[0]
    day_slots = _days(now, days)
    since_days = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)

    created = {
        kind: _per_hour(queryset, "created_at", since_hours, count=Count("pk"))
        for kind, queryset in (
            ("predictions", Prediction.objects.all()),
            ("trainings", TrainedModel.objects.all()),
        )
    }
    finished = {
        "predictions": _per_hour(
            Prediction.objects.filter(status__in=(Prediction.Status.SUCCEEDED, Prediction.Status.FAILED)),
            "finished_at",
            since_hours,
            finished=Count("pk"),
            failed=Count("pk", filter=Q(status=Prediction.Status.FAILED)),
        ),
        "trainings": _per_hour(
            TrainedModel.objects.filter(status__in=TRAINING_FINISHED),
            "finished_at",
            since_hours,
            finished=Count("pk"),
            failed=Count("pk", filter=Q(status=TrainedModel.Status.FAILED)),
        ),
    }
    # Queue wait per hour of start, both kinds together: bucket counts from the
    # database, percentiles estimated from them.
    wait_counts: dict[datetime, list[Histogram]] = {}
    for queryset in (Prediction.objects.all(), TrainedModel.objects.all()):
        per_hour = histograms_by(
            queryset.filter(started_at__gte=since_hours).annotate(hour=TruncHour("started_at")),
            start="created_at",
            end="started_at",
            bounds=QUEUE_WAIT_BUCKETS,
            group_by=("hour",),
        )
        for (hour,), histogram in per_hour.items():
            wait_counts.setdefault(hour, []).append(histogram)

    def wait_quantiles(hour: datetime) -> tuple[float | None, float | None]:
        histograms = wait_counts.get(hour)
        if not histograms:
            return None, None
        combined = Histogram(
            bounds=QUEUE_WAIT_BUCKETS,
            cumulative=tuple(map(sum, zip(*(histogram.cumulative for histogram in histograms), strict=True))),
            count=sum(histogram.count for histogram in histograms),
            sum_seconds=0.0,
        )
        return combined.quantile(0.5), combined.quantile(0.95)

    def failure_rate(kind: str, hour: datetime) -> float | None:
        row = finished[kind].get(hour)
        if not row or not row["finished"]:
            return None
        return round(100 * row["failed"] / row["finished"], 1)

    quantiles = [wait_quantiles(hour) for hour in hour_slots]

    money = {
        (row["day"], row["kind"]): row["total"]
        for row in LedgerEntry.objects.order_by()
        .filter(created_at__gte=since_days, kind__in=[*LedgerEntry.CHARGE_KINDS, LedgerEntry.Kind.REFUND])
        .annotate(day=TruncDate("created_at"))
        .values("day", "kind")
        .annotate(total=Sum("amount"))
    }

    def coins(day, kind) -> float:
        return abs(float(money.get((day, kind)) or 0))

    top_rows = list(
        Prediction.objects.order_by()
        .filter(created_at__gte=since_days)
        .values("model_id")
        .annotate(predictions=Count("pk"), rows=Sum("rows"), coins=Sum("cost"))
        .order_by("-predictions", "model_id")[:top]
    )
    names = {
        pk: f"{name} v{version}"
        for pk, name, version in TrainedModel.objects.filter(
            pk__in=[row["model_id"] for row in top_rows]
        ).values_list("pk", "name", "version")
    }

    return {
        "hours": [hour.isoformat() for hour in hour_slots],
        "jobs_per_hour": {
            kind: [created[kind].get(hour, {}).get("count", 0) for hour in hour_slots] for kind in created
        },
        "failure_rate": {kind: [failure_rate(kind, hour) for hour in hour_slots] for kind in finished},
        "queue_wait": {
            "median": [median for median, _ in quantiles],
            "p95": [p95 for _, p95 in quantiles],
        },
        "days": [day.isoformat() for day in day_slots],
        "coins": {
            "prediction_charge": [coins(day, LedgerEntry.Kind.PREDICTION_CHARGE) for day in day_slots],
            "training_fee": [coins(day, LedgerEntry.Kind.TRAINING_FEE) for day in day_slots],
            "refund": [coins(day, LedgerEntry.Kind.REFUND) for day in day_slots],
        },
        "top_models": [
            {
                "model_id": row["model_id"],
                "model": names.get(row["model_id"], str(row["model_id"])),
                "predictions": row["predictions"],
                "rows": row["rows"] or 0,
                "coins": float(row["coins"] or 0),
            }
            for row in top_rows
        ],
    }

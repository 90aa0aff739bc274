# Seed the running totals that /metrics reads (core.jobs.counts, billing.services._post)
# from the jobs and ledger entries written before they were kept, once, so the totals
# stay right across the upgrade. Set, not added: a counter an event already raised
# (new code serving before this ran) is replaced by the total of the rows, which
# include that event.
#
# Frozen copies of the counter names and bucket bounds of this version: a migration
# must not change meaning when the code does later.

from datetime import timedelta
from decimal import Decimal

from django.db import migrations
from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)

SHORT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LONG_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)

KINDS = [
    {
        "kind": "prediction",
        "model": ("predictions", "Prediction"),
        "labels": {"model": "model_id"},
        "totals": {"rows": "rows"},
        "succeeded": "succeeded",
        "finished": ("succeeded", "failed", "canceled"),
        "duration_buckets": SHORT_BUCKETS,
        "queue_wait_buckets": SHORT_BUCKETS,
    },
    {
        "kind": "training",
        "model": ("mlmodels", "TrainedModel"),
        "labels": {"algorithm": "algorithm__key"},
        "totals": {},
        "succeeded": "ready",
        "finished": ("ready", "failed"),
        "duration_buckets": LONG_BUCKETS,
        "queue_wait_buckets": SHORT_BUCKETS,
    },
]
FAMILIES = (
    "jobs_submitted",
    "jobs_finished",
    "jobs_succeeded_rows",
    "job_duration",
    "job_duration_ms",
    "job_queue_wait",
    "job_queue_wait_ms",
    "ledger_entries",
    "ledger_cents",
)


def name(family, **labels):
    return family + "{" + ",".join(f"{label}={value}" for label, value in labels.items()) + "}"


def bucket_labels(start, end, bounds):
    """The "le" of the bucket ``end - start`` falls in, computed by the database."""
    return Case(
        *[
            When(**{f"{end}__lte": F(start) + timedelta(seconds=bound)}, then=Value(index))
            for index, bound in enumerate(bounds)
        ],
        default=Value(len(bounds)),
        output_field=IntegerField(),
    )


def histogram(rows, *, start, end, bounds, family, group, **labels):
    """{counter name: value} of one histogram per value of ``group`` (a field or None)."""
    values = [group] if group else []
    grouped = (
        rows.order_by()
        .filter(**{f"{start}__isnull": False, f"{end}__isnull": False})
        .annotate(bucket=bucket_labels(start, end, bounds))
        .values(*values, "bucket")
        .annotate(n=Count("pk"), took=Sum(ExpressionWrapper(F(end) - F(start), output_field=DurationField())))
    )
    counters = {}
    for row in grouped:
        by = {**labels, **({"status": row[group]} if group else {})}
        le = repr(float(bounds[row["bucket"]])) if row["bucket"] < len(bounds) else "+Inf"
        counters[name(family, **by, le=le)] = row["n"]
        milliseconds = round(row["took"].total_seconds() * 1000) if row["took"] else 0
        key = name(family + "_ms", **by)
        counters[key] = counters.get(key, 0) + milliseconds
    return counters


def job_totals(apps, spec):
    jobs = apps.get_model(*spec["model"]).objects.all()
    kind, labels = spec["kind"], spec["labels"]
    counters = {}
    grouped = (
        jobs.order_by()
        .values(*labels.values(), "status")
        .annotate(n=Count("pk"), **{total: Sum(field) for total, field in spec["totals"].items()})
    )
    for row in grouped:
        by = {label: row[path] for label, path in labels.items()}
        submitted = name("jobs_submitted", kind=kind, **by)
        counters[submitted] = counters.get(submitted, 0) + row["n"]
        if row["status"] in spec["finished"]:
            counters[name("jobs_finished", kind=kind, **by, status=row["status"])] = row["n"]
        if row["status"] == spec["succeeded"]:
            for total in spec["totals"]:
                counters[name(f"jobs_succeeded_{total}", kind=kind, **by)] = row[total] or 0
    finished = jobs.filter(status__in=spec["finished"])
    counters |= histogram(
        finished,
        start="started_at",
        end="finished_at",
        bounds=spec["duration_buckets"],
        family="job_duration",
        group="status",
        kind=kind,
    )
    counters |= histogram(
        jobs,
        start="created_at",
        end="started_at",
        bounds=spec["queue_wait_buckets"],
        family="job_queue_wait",
        group=None,
        kind=kind,
    )
    return counters


def ledger_totals(apps):
    grouped = (
        apps.get_model("billing", "LedgerEntry")
        .objects.order_by()
        .values("kind")
        .annotate(
            n=Count("pk"),
            credit=Sum("amount", filter=Q(amount__gt=0)),
            debit=Sum("amount", filter=Q(amount__lt=0)),
        )
    )
    counters = {}
    for row in grouped:
        counters[name("ledger_entries", kind=row["kind"])] = row["n"]
        for direction in ("credit", "debit"):
            if row[direction]:
                # round(): SQLite sums decimals as floating point.
                cents = abs(round(Decimal(row[direction]) * 100))
                counters[name("ledger_cents", kind=row["kind"], direction=direction)] = int(cents)
    return counters


def seed_running_totals(apps, schema_editor):
    ServiceCounter = apps.get_model("core", "ServiceCounter")
    counters = ledger_totals(apps)
    for spec in KINDS:
        counters |= job_totals(apps, spec)
    stale = Q()
    for family in FAMILIES:
        stale |= Q(name__startswith=family + "{")
    ServiceCounter.objects.filter(stale).delete()
    ServiceCounter.objects.bulk_create(
        ServiceCounter(name=counter, value=value) for counter, value in counters.items() if value
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_servicecounter_longer_names"),
        ("billing", "0002_move_idempotencykey_to_core"),
        ("mlmodels", "0002_dataset_profile_job"),
        ("predictions", "0002_prediction_files_deleted_at"),
    ]

    operations = [
        migrations.RunPython(seed_running_totals, migrations.RunPython.noop),
    ]

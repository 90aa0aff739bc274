"""Counters shared by every process of the service, web and workers, on any machine:
rows in the database raised by one statement. ``operations.metrics`` reads them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import DatabaseError, connection, transaction

from core.models import ServiceCounter

logger = logging.getLogger(__name__)

MODEL_CACHE_HITS = "model_cache_hits"
MODEL_CACHE_MISSES = "model_cache_misses"
STORAGE_ERRORS = "storage_errors"


def counter_increment(*, name: str, by: int = 1) -> None:
    """Add ``by`` to the shared counter ``name``, creating it at the first use."""
    counters_add({name: by})


def counters_add(increments: Mapping[str, int]) -> None:
    """Add to several shared counters in one statement, creating the ones used for the
    first time: ``INSERT … ON CONFLICT (name) DO UPDATE SET value = value + excluded.value``
    (PostgreSQL, SQLite ≥ 3.24). The database serialises the upserts of one row, so
    processes that count at the same time never lose a step.

    It runs in the caller's transaction, so an event that is rolled back counts nothing,
    and each row stays locked until the caller commits: call it last. The rows go in
    name order because PostgreSQL upserts them in the order given: two transactions
    raising the same counters lock them in the same order, and one waits for the other
    instead of deadlocking.

    Plain SQL: counters move with every prediction, and compiling an ORM statement
    costs more than running this one."""
    rows = sorted((name, by) for name, by in increments.items() if by)
    if not rows:
        return
    quote = connection.ops.quote_name
    table, name, value = quote(ServiceCounter._meta.db_table), quote("name"), quote("value")
    placeholders = ", ".join(["(%s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({name}, {value}) VALUES {placeholders} "
            f"ON CONFLICT ({name}) DO UPDATE SET {value} = {table}.{value} + excluded.{value}",
            [parameter for row in rows for parameter in row],
        )


def counter_name(family: str, **labels: object) -> str:
    """``family{label=value,…}``: one counter per family and set of label values (ids,
    keys, statuses, bucket bounds: never a ``,``, ``=`` or ``}``)."""
    if not labels:
        return family
    return family + "{" + ",".join(f"{label}={value!s}" for label, value in labels.items()) + "}"


def counter_family(name: str) -> tuple[str, dict[str, str]]:
    """The family and the labels of a counter_name."""
    family, _, labels = name.partition("{")
    return family, dict(pair.split("=", 1) for pair in labels.rstrip("}").split(",") if pair)


def counter_values() -> dict[str, int]:
    return dict(ServiceCounter.objects.values_list("name", "value"))


def model_cache_counter(hit: bool) -> str:
    """The counter of one lookup in a worker's model cache (raised with the job's own
    counters when it succeeds, by record_model_cache otherwise)."""
    return MODEL_CACHE_HITS if hit else MODEL_CACHE_MISSES


def record_model_cache(hit: bool) -> None:
    """Count one lookup in a worker's model cache. The counters are rows in the
    database, so every worker process on every machine adds to the same totals.
    Never raises: a metric must not fail a prediction."""
    try:
        # A savepoint when called inside a transaction: a failure here rolls back
        # only the count.
        with transaction.atomic():
            counter_increment(name=model_cache_counter(hit))
    except DatabaseError as error:
        logger.warning("model cache %s not counted: %s", "hit" if hit else "miss", error)


def record_storage_error() -> None:
    """Count one failed call to the file storage (core.storage). Never raises."""
    try:
        with transaction.atomic():
            counter_increment(name=STORAGE_ERRORS)
    except DatabaseError as error:
        logger.warning("storage error not counted: %s", error)

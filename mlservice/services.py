"""Writes that belong to the service as a whole rather than to one app."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from mlservice.models import ServiceCounter


def counter_increment(*, name: str, by: int = 1) -> None:
    """Add ``by`` to the shared counter ``name``, creating it at the first use. One
    conditional UPDATE, so processes that count at the same time never lose a step."""
    if ServiceCounter.objects.filter(name=name).update(value=F("value") + by):
        return
    try:
        with transaction.atomic():
            ServiceCounter.objects.create(name=name, value=by)
    except IntegrityError:
        # Another process created it between our UPDATE and INSERT: count on its row.
        ServiceCounter.objects.filter(name=name).update(value=F("value") + by)

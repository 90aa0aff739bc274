"""The Algorithm table, kept in step with the engine's code catalog."""

from __future__ import annotations

from typing import Any

from mlmodels.ml import catalog
from mlmodels.models import Algorithm


def algorithm_sync() -> dict[str, list[str]]:
    """Bring the Algorithm table in step with the code catalog: create what is new,
    refresh names and descriptions, and mark what the code no longer offers
    ``in_catalog=False``. Operator choices (enabled, training_price) are never
    overwritten. Safe to run any number of times."""
    created: list[str] = []
    updated: list[str] = []
    for spec in catalog.ALGORITHMS.values():
        described = {
            "name": spec.name,
            "task": spec.task,
            "description": spec.description,
            "in_catalog": True,
        }
        algorithm, was_created = Algorithm.objects.get_or_create(key=spec.key, defaults=described)
        if was_created:
            created.append(spec.key)
            continue
        changed = [field for field, value in described.items() if getattr(algorithm, field) != value]
        if changed:
            for field in changed:
                setattr(algorithm, field, described[field])
            algorithm.save(update_fields=changed)
            updated.append(spec.key)
    gone = Algorithm.objects.filter(in_catalog=True).exclude(key__in=list(catalog.ALGORITHMS))
    removed = list(gone.values_list("key", flat=True))
    gone.update(in_catalog=False)
    return {"created": created, "updated": updated, "removed": removed}


def algorithm_hyperparameters(key: str) -> list[dict[str, Any]]:
    """The hyperparameter schema of an algorithm, from the code catalog."""
    spec = catalog.ALGORITHMS.get(key)
    return [parameter.as_dict() for parameter in spec.hyperparameters] if spec else []

"""Reads: a model's drift report (the API and the model page) and the figures /metrics
shows for every model. Access is decided by the caller (mlmodels.selectors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from monitoring import distributions
from monitoring.models import PredictionSample, PredictionSampleRow, PredictionTally, TrainingReference
from monitoring.psi import Bin, FeatureDrift, drift_by_feature

READY = "ready"
NO_REFERENCE = "no_reference"
TOO_FEW_ROWS = "too_few_rows"


@dataclass(frozen=True)
class Window:
    """The sample the recent figures come from."""

    rows: int  # rows in the sample
    seen: int  # rows predicted since the sample started
    minimum_rows: int
    capacity: int
    started_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class PredictionDistribution:
    task: str
    predicted: int  # rows predicted in all (tallies)
    bins: list[Bin]


@dataclass(frozen=True)
class DriftReport:
    model: int
    status: str  # READY, NO_REFERENCE or TOO_FEW_ROWS
    detail: str
    window: Window
    features: list[FeatureDrift] = field(default_factory=list)
    predictions: PredictionDistribution | None = None

    @property
    def psi_max(self) -> float | None:
        return self.features[0].psi if self.features else None


def class_label(key: str, classes: list[Any]) -> str:
    """The class a tally key counts: its name, or ``other``."""
    if key.isdigit() and int(key) < len(classes):
        return str(classes[int(key)])
    return distributions.OTHER


def _prediction_distribution(
    *, model_id: int, task: str, classes: list[Any], target: dict[str, Any] | None
) -> PredictionDistribution:
    tallies = {
        key: count
        for key, count in PredictionTally.objects.filter(model_id=model_id).values_list("key", "count")
    }
    training = (target or {}).get("shares") or []
    if task == "classification":
        predicted = sum(tallies.values())
        bins = []
        for position, name in enumerate(classes[: distributions.MAX_CLASSES]):
            share = tallies.get(str(position), 0) / predicted if predicted else 0.0
            bins.append(Bin(str(name), training[position] if position < len(training) else 0.0, share))
        if len(classes) > distributions.MAX_CLASSES:
            rest = tallies.get(distributions.OTHER, 0)
            bins.append(
                Bin(
                    distributions.OTHER,
                    sum(training[distributions.MAX_CLASSES :]),
                    rest / predicted if predicted else 0.0,
                )
            )
        return PredictionDistribution(task=task, predicted=predicted, bins=bins)
    edges = distributions.value_edges(target)
    predicted = tallies.get("sum", 0)
    labels = distributions.numeric_labels(edges)
    has_training = len(training) == len(labels)
    bins = [
        Bin(
            label,
            training[bucket] if has_training else 0.0,
            tallies.get(f"b{bucket}", 0) / predicted if predicted else 0.0,
        )
        for bucket, label in enumerate(labels)
    ]
    return PredictionDistribution(task=task, predicted=predicted, bins=bins)


def model_drift(*, model_id: int, task: str, classes: list[Any] | None) -> DriftReport:
    """How far the model's recent inputs moved from its training data, feature by
    feature (worst first), and what it predicted against what it learned from."""
    reference = TrainingReference.objects.filter(model_id=model_id).first()
    sample = PredictionSample.objects.filter(model_id=model_id).first()
    minimum = settings.DRIFT_MIN_ROWS
    window = Window(
        rows=sample.size if sample else 0,
        seen=sample.seen if sample else 0,
        minimum_rows=minimum,
        capacity=settings.DRIFT_SAMPLE_ROWS,
        started_at=sample.started_at if sample else None,
        updated_at=sample.updated_at if sample else None,
    )
    predictions = _prediction_distribution(
        model_id=model_id,
        task=task,
        classes=list(classes or []),
        target=reference.target if reference else None,
    )
    if reference is None or not reference.features:
        return DriftReport(
            model=model_id,
            status=NO_REFERENCE,
            detail=(
                "This model has no training reference (it was imported, or trained before drift was "
                "measured), so its inputs cannot be compared with its training data."
            ),
            window=window,
            predictions=predictions,
        )
    if window.rows < minimum:
        return DriftReport(
            model=model_id,
            status=TOO_FEW_ROWS,
            detail=(
                f"{window.rows} predicted row{'s' if window.rows != 1 else ''} so far; drift is measured "
                f"from {minimum} rows on ({minimum - window.rows} more needed)."
            ),
            window=window,
            predictions=predictions,
        )
    rows = list(
        PredictionSampleRow.objects.filter(model_id=model_id, slot__lt=window.rows).values_list(
            "values", flat=True
        )
    )
    names = sample.features if sample else []
    by_name = {feature["name"]: feature for feature in reference.features}
    # The sample's rows follow its own feature list; a feature the reference lacks is left out.
    references = [(name, by_name[name]) for name in names if name in by_name]
    positions = [names.index(name) for name, _ in references]
    features = drift_by_feature(references, [[row[position] for position in positions] for row in rows])
    worst = features[0] if features else None
    detail = f"Worst feature: {worst.name} (PSI {worst.psi:.3f}, {worst.level})." if worst else "No features."
    return DriftReport(
        model=model_id, status=READY, detail=detail, window=window, features=features, predictions=predictions
    )


@dataclass(frozen=True)
class ModelFigures:
    """What /metrics shows of one model: tallies by key, a regressor's bounds and the
    worst PSI (None until the sample is big enough)."""

    model_id: int
    tallies: dict[str, tuple[int, float]]
    value_edges: list[float]
    psi_max: float | None


def monitoring_figures() -> list[ModelFigures]:
    """Three queries for every model: tallies, references' targets, samples."""
    tallies: dict[int, dict[str, tuple[int, float]]] = {}
    for model_id, key, count, total in PredictionTally.objects.values_list(
        "model_id", "key", "count", "total"
    ):
        tallies.setdefault(model_id, {})[key] = (count, total)
    psi = {
        model_id: psi_max
        for model_id, psi_max in PredictionSample.objects.filter(
            size__gte=settings.DRIFT_MIN_ROWS, psi_max__isnull=False
        ).values_list("model_id", "psi_max")
    }
    model_ids = sorted(set(tallies) | set(psi))
    targets = dict(TrainingReference.objects.filter(model_id__in=model_ids).values_list("model_id", "target"))
    return [
        ModelFigures(
            model_id=model_id,
            tallies=tallies.get(model_id, {}),
            value_edges=distributions.value_edges(targets.get(model_id)),
            psi_max=psi.get(model_id),
        )
        for model_id in model_ids
    ]

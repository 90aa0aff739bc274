"""The population stability index of a feature: how far the distribution of recent
inputs moved from the training one, on the bins of ``distributions``.

    PSI = Σ over bins (recent − training) × ln(recent / training)

A share of 0 (a bin empty in one of the two) would make the logarithm infinite, so
shares below ``EPSILON`` count as ``EPSILON`` (0.0001, i.e. 0.01 %): a bin that held
10 % of the training rows and none of the recent ones then adds about 0.69, and a
value never seen in training met in 5 % of recent rows about 0.34. Usual reading, and
the traffic lights here: below 0.1 no real change (green), 0.1 to 0.25 a moderate one
(amber), above 0.25 a shift worth acting on (red).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitoring.distributions import MISSING, UNKNOWN, recent_shares

EPSILON = 1e-4
AMBER_FROM = 0.1
RED_FROM = 0.25


def population_stability_index(training: Sequence[float], recent: Sequence[float]) -> float:
    total = 0.0
    for expected, actual in zip(training, recent, strict=True):
        expected, actual = max(expected, EPSILON), max(actual, EPSILON)
        total += (actual - expected) * math.log(actual / expected)
    return total


def level(psi: float) -> str:
    """The traffic light: ``green`` below 0.1, ``amber`` up to 0.25, ``red`` above."""
    if psi > RED_FROM:
        return "red"
    return "amber" if psi >= AMBER_FROM else "green"


@dataclass(frozen=True)
class Bin:
    label: str
    training: float
    recent: float


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str
    psi: float
    level: str
    # Share of the recent rows whose value was never seen in training (categories).
    unknown_share: float
    training_missing: float
    recent_missing: float
    bins: list[Bin]

    @property
    def missing_change(self) -> float:
        """Recent missing rate − training missing rate (0.2: 20 points more missing)."""
        return self.recent_missing - self.training_missing


def feature_drift(name: str, reference: dict[str, Any], values: Sequence[Any]) -> FeatureDrift:
    """Compare one feature's recent ``values`` with its training ``reference``."""
    bins = [Bin(label, training, recent) for label, training, recent in recent_shares(reference, values)]
    missing = next(item for item in bins if item.label == MISSING)
    unknown = next((item.recent for item in bins if item.label == UNKNOWN), 0.0)
    psi = population_stability_index([item.training for item in bins], [item.recent for item in bins])
    return FeatureDrift(
        name=name,
        kind=reference["kind"],
        psi=psi,
        level=level(psi),
        unknown_share=unknown,
        training_missing=missing.training,
        recent_missing=missing.recent,
        bins=bins,
    )


def drift_by_feature(
    references: Sequence[tuple[str, dict[str, Any]]], rows: Sequence[Sequence[Any]]
) -> list[FeatureDrift]:
    """Every feature's drift, worst first. ``rows`` hold one value per feature, in the
    order of ``references``."""
    found = [
        feature_drift(name, reference, [row[position] for row in rows])
        for position, (name, reference) in enumerate(references)
    ]
    return sorted(found, key=lambda drift: (-drift.psi, drift.name))

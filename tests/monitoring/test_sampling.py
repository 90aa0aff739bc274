"""The sample of predicted rows: bounded by its capacity however much is fed, and a
fair (uniform) sample of everything fed, whether rows come one by one or in big CSVs."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.sampling import RowSample, merge_plan


def feed(capacity: int, batches: list[int], seed: int = 0) -> tuple[list[int], int]:
    """Row numbers 0, 1, 2, … fed as predictions of ``batches`` rows (each sampled by
    RowSample in chunks of at most 1,000, as the worker does), merged into a reservoir."""
    rng = np.random.default_rng(seed)
    reservoir: list[int] = []
    seen = 0
    for size in batches:
        sample = RowSample(capacity=capacity, rng=rng)
        for start in range(0, size, 1000):
            count = min(1000, size - start)
            first = seen + start
            sample.offer(count, lambda positions, first=first: (first + positions).tolist())
        plan = merge_plan(capacity=capacity, seen=seen, offered=size, sample_size=len(sample.rows), rng=rng)
        reservoir.extend([None] * (plan.size - len(reservoir)))
        for slot, take in zip(plan.slots, plan.take, strict=True):
            reservoir[slot] = sample.rows[take]
        seen += size
    assert all(row is not None for row in reservoir)
    return reservoir, seen


@pytest.mark.parametrize(
    "batches",
    [
        [1] * 2000,  # one-row predictions
        [7, 300, 1, 1, 1200, 50, 442],  # a mix; the last ones are below capacity
        [2000],  # one CSV: 10x the capacity in one prediction
    ],
    ids=["single-rows", "mixed", "one-csv"],
)
def test_ten_times_the_capacity_keeps_it_at_capacity(batches):
    reservoir, seen = feed(200, batches * (2000 // sum(batches) or 1))
    assert seen >= 2000
    assert len(reservoir) == 200
    assert len(set(reservoir)) == 200  # each row at most once
    assert all(0 <= row < seen for row in reservoir)


def test_below_capacity_everything_is_kept():
    reservoir, seen = feed(200, [50, 1, 1, 30])
    assert sorted(reservoir) == list(range(seen))


@pytest.mark.parametrize(
    "batches",
    [[1] * 20_000, [3000, 17_000], [20_000], [500] * 40],
    ids=["single-rows", "two", "one-csv", "forty"],
)
def test_the_sample_is_fair_over_everything_fed(batches):
    # Row numbers 0..19,999 sampled 2,000 at a time, 30 times over: every tenth of the
    # history must hold a tenth of the sample (a chi-square test), whatever the batches.
    capacity, repeats = 2000, 30 if len(batches) < 100 else 3
    counts = np.zeros(10)
    for seed in range(repeats):
        reservoir, seen = feed(capacity, batches, seed=seed)
        assert len(reservoir) == capacity
        counts += np.bincount(np.array(reservoir) * 10 // seen, minlength=10)
    expected = capacity * repeats / 10
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    assert chi_square < 27.88, counts  # p = 0.001 with 9 degrees of freedom
    # A sample biased to recent rows (the last CSV) would fail this too.
    assert counts[:5].sum() / counts.sum() == pytest.approx(0.5, abs=0.02)


def test_a_merge_never_writes_more_than_the_capacity():
    rng = np.random.default_rng(3)
    plan = merge_plan(capacity=100, seen=10**12, offered=10**6, sample_size=100, rng=rng)
    assert plan.size == 100 and len(plan.slots) == len(plan.take) <= 100
    plan = merge_plan(capacity=100, seen=0, offered=0, sample_size=0, rng=rng)
    assert plan.slots == [] and plan.size == 0

"""A bounded, fair sample of the rows a model predicted (numpy only, no Django).

Two steps, so a prediction never reads the model's whole history and a 1,000,000-row
CSV never holds more than ``capacity`` sampled rows:

1. ``RowSample``: Algorithm R over one prediction's rows, fed chunk by chunk while the
   worker scores them (vectorised: a chunk costs one random draw per row past the
   first ``capacity``, and only the rows kept are copied).
2. ``merge_plan``: folds that sample into the model's stored sample (its reservoir),
   which is a uniform sample of the ``seen`` rows predicted before. After the merge the
   reservoir is a uniform sample of all ``seen + offered`` rows — what Algorithm R run
   over every row would give: the number of new rows in it is hypergeometric (a
   uniform ``size``-subset of ``seen + offered`` rows holds that many of the
   ``offered``), which new rows is a uniform choice from the prediction's own uniform
   sample, and which old rows stay a uniform choice from the old reservoir.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# numpy's hypergeometric draw takes populations below this; beyond, the binomial with
# the same mean is indistinguishable at a sample of a few thousand rows.
_HYPERGEOMETRIC_LIMIT = 10**9


@dataclass
class RowSample:
    """Algorithm R over the rows ``offer``ed to it: ``rows`` is a uniform sample of at
    most ``capacity`` of the ``seen`` rows. A row is any value (a list of features and
    the prediction)."""

    capacity: int
    rng: np.random.Generator
    seen: int = 0
    rows: list[Any] = field(default_factory=list)

    def offer(self, count: int, row_at) -> None:
        """Offer ``count`` rows; ``row_at(positions)`` returns the rows at those
        positions (0-based within this batch), called only for the rows kept."""
        if count <= 0:
            return
        filling = min(count, self.capacity - len(self.rows))
        if filling > 0:
            self.rows.extend(row_at(np.arange(filling)))
        rest = np.arange(filling, count)
        if rest.size:
            # Row number t (0-based over everything offered) replaces slot j, drawn
            # uniformly from 0..t, when j < capacity.
            numbers = self.seen + rest
            slots = np.floor(self.rng.random(rest.size) * (numbers + 1)).astype(np.int64)
            chosen = slots < self.capacity
            # A later row drawn for the same slot replaces an earlier one: keep the last.
            last: dict[int, int] = {}
            for position, slot in zip(rest[chosen].tolist(), slots[chosen].tolist(), strict=True):
                last[slot] = position
            if last:
                taken = row_at(np.array(list(last.values())))
                for slot, row in zip(last, taken, strict=True):
                    self.rows[slot] = row
        self.seen += count


@dataclass(frozen=True)
class MergePlan:
    """Put ``sample_rows[take[i]]`` into slot ``slots[i]``; afterwards the reservoir
    holds ``size`` rows (slots ``0 .. size - 1``)."""

    slots: list[int]
    take: list[int]
    size: int


def merge_plan(
    *, capacity: int, seen: int, offered: int, sample_size: int, rng: np.random.Generator
) -> MergePlan:
    """How to fold a uniform ``sample_size``-row sample of ``offered`` new rows into a
    reservoir holding a uniform sample (``min(seen, capacity)`` rows in slots
    ``0 ..``) of ``seen`` earlier rows."""
    stored = min(seen, capacity)
    size = min(capacity, seen + offered)
    if offered <= 0:
        return MergePlan(slots=[], take=[], size=stored)
    if seen + offered <= capacity:
        new = offered
    elif seen + offered < _HYPERGEOMETRIC_LIMIT:
        new = int(rng.hypergeometric(ngood=offered, nbad=seen, nsample=size))
    else:
        new = max(size - seen, int(rng.binomial(size, offered / (seen + offered))))
    new = min(new, sample_size, size)
    # Old rows leaving: a uniform choice among the stored ones; the new rows go to
    # their slots and to the empty slots up to ``size``.
    dropped = new - (size - stored)
    leaving = rng.choice(stored, size=dropped, replace=False).tolist() if dropped else []
    free = sorted(int(slot) for slot in leaving) + list(range(stored, size))
    take = rng.choice(sample_size, size=len(free), replace=False) if free else np.array([], dtype=int)
    return MergePlan(slots=free, take=[int(position) for position in take], size=size)

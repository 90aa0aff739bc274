"""Work on a stream of chunks spread over a few threads, with the results handed back
in the stream's order.

A CSV is checked and scored chunk by chunk; Arrow's kernels and NumPy's arithmetic
release the GIL, so two chunks can be worked on side by side while the calling thread
reads the next one. The results come back in file order (the first problems of a file
are reported in row order; a result file is written in input order), and at most
``threads`` chunks are in flight, which bounds memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(
    work: Callable[[Item], Result], items: Iterable[Item], *, threads: int
) -> Iterator[tuple[Item, Result]]:
    """``(item, work(item))`` for each item, in the order of ``items``. With one thread
    the work runs in the caller's thread. An exception from ``work`` or from ``items``
    is raised where its item's result would have been; the chunks already in flight
    finish first (a thread cannot be stopped)."""
    if threads <= 1:
        for item in items:
            yield item, work(item)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        in_flight: deque[tuple[Item, Future[Result]]] = deque()
        for item in items:
            in_flight.append((item, pool.submit(work, item)))
            if len(in_flight) >= threads:
                first, result = in_flight.popleft()
                yield first, result.result()
        while in_flight:
            first, result = in_flight.popleft()
            yield first, result.result()

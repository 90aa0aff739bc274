"""Chunks worked on side by side come back in the stream's order, with at most
``threads`` in flight, and an error surfaces at its own chunk."""

from __future__ import annotations

import threading
import time

import pytest

from mlmodels.ml.inorder import in_order


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_results_come_back_in_order_whatever_finishes_first(threads):
    def slow_for_small(number: int) -> int:
        time.sleep(0.002 * (10 - number))  # later items finish first
        return number * number

    assert list(in_order(slow_for_small, range(10), threads=threads)) == [(n, n * n) for n in range(10)]


def test_no_more_than_threads_items_are_in_flight():
    running = peak = 0
    lock = threading.Lock()
    first_three = threading.Barrier(3, timeout=30)  # broken unless they run side by side

    def work(number: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        if number < 3:
            first_three.wait()
        time.sleep(0.01)
        with lock:
            running -= 1
        return number

    read = []

    def items():
        for number in range(12):
            read.append(number)
            yield number

    for number, _ in in_order(work, items(), threads=3):
        assert len(read) <= number + 3  # never more than three items ahead of the consumer
    assert peak == 3


@pytest.mark.parametrize("threads", [1, 2])
def test_an_error_surfaces_at_its_item_after_the_earlier_ones(threads):
    def work(number: int) -> int:
        if number == 3:
            raise ValueError("item 3")
        return number

    seen = []
    with pytest.raises(ValueError, match="item 3"):
        for number, _ in in_order(work, range(6), threads=threads):
            seen.append(number)
    assert seen == [0, 1, 2]

"""Shared counters: one upsert per event, exact under concurrency, gone with a rollback."""

import threading

import pytest
from django.db import connection, transaction

from core.counters import counter_family, counter_name, counter_values, counters_add


def test_names_carry_their_labels():
    name = counter_name(
        "jobs_finished", kind="training", algorithm="random_forest_classifier", status="ready"
    )
    assert name == "jobs_finished{kind=training,algorithm=random_forest_classifier,status=ready}"
    assert counter_family(name) == (
        "jobs_finished",
        {"kind": "training", "algorithm": "random_forest_classifier", "status": "ready"},
    )
    assert counter_family("model_cache_hits") == ("model_cache_hits", {})


def test_counters_are_created_at_first_use_and_a_rollback_counts_nothing(db):
    counters_add({"b": 2, "a": 1, "zero": 0})
    with pytest.raises(RuntimeError), transaction.atomic():
        counters_add({"a": 10, "c": 1})
        raise RuntimeError
    counters_add({"a": 1})
    assert counter_values() == {"a": 2, "b": 2}


@pytest.mark.django_db(transaction=True)
def test_concurrent_transactions_lose_no_step_and_never_deadlock():
    """Twelve threads raise overlapping sets of counters (given in different orders,
    some new) in transactions of their own, at the same time."""
    rounds = 15
    barrier = threading.Barrier(12)
    errors: list[BaseException] = []

    def count(number: int):
        try:
            barrier.wait()
            for _ in range(rounds):
                names = ["shared_a", "shared_b", f"new_{number % 3}"]
                if number % 2:
                    names.reverse()
                with transaction.atomic():
                    counters_add(dict.fromkeys(names, 1))
        except BaseException as error:  # reported below, with the thread's failure
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=count, args=(number,)) for number in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert counter_values() == {
        "shared_a": 12 * rounds,
        "shared_b": 12 * rounds,
        "new_0": 4 * rounds,
        "new_1": 4 * rounds,
        "new_2": 4 * rounds,
    }

"""Concurrent submissions from one user, each on its own database connection (SQLite
here; PostgreSQL in CI through DATABASE_URL)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing.audit import billing_audit
from billing.models import LedgerEntry
from predictions import services
from predictions.models import Prediction


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_never_overdraw(alice, make_model, row, balance):
    """One user, a balance that pays for exactly 3 predictions, 9 at once on 9
    connections: exactly 3 are accepted, the rest are 402, the balance stays >= 0."""
    from billing.services import InsufficientFunds

    model = make_model(owner=alice, price_per_row=Decimal("150"))  # 500 pays for 3
    outcomes: list[str] = []
    start = threading.Barrier(9)

    def submit():
        try:
            start.wait()
            services.prediction_submit(user=alice, model_id=model.pk, inputs=row)
            outcomes.append("accepted")
        except InsufficientFunds:
            outcomes.append("402")
        except Exception as error:  # anything else fails the test below
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(outcomes) == ["402"] * 6 + ["accepted"] * 3
    assert Prediction.objects.count() == 3
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count() == 3
    assert balance(alice) == Decimal("50.00")
    assert billing_audit() == []

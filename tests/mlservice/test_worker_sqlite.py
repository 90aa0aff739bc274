"""The web process and a real qcluster write to one database at once without
"database is locked" (SQLite: WAL, busy timeout, IMMEDIATE transactions)."""

import threading
from decimal import Decimal

from django.db import connection
from django_q.models import Failure
from django_q.tasks import async_task

from billing.audit import billing_audit
from billing.models import LedgerEntry
from billing.services import account_debit
from tests.conftest import wait_for


def test_web_and_worker_write_together_without_locking_errors(alice, start_worker):
    worker = start_worker(workers=2)
    for _ in range(4):
        async_task("tests.worker_tasks.ledger_churn", alice.pk, 25)

    errors: list[Exception] = []

    def debit_many():
        try:
            for _ in range(25):
                account_debit(user=alice, amount=Decimal("0.50"), kind=LedgerEntry.Kind.TRAINING_FEE)
        except Exception as error:  # noqa: BLE001 - the assertion below reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=debit_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    churned = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT)
    wait_for(lambda: churned.count() >= 100 or Failure.objects.exists(), timeout=120, what="4 tasks")
    assert errors == []
    assert Failure.objects.count() == 0, [f.result for f in Failure.objects.all()]
    assert "locked" not in worker.log()
    alice.coin_account.refresh_from_db()
    # 500 + 4 × 25 × 1.00 − 3 × 25 × 0.50
    assert alice.coin_account.balance == Decimal("562.50")
    assert billing_audit() == []

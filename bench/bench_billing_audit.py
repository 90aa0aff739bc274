"""How long ``billing_audit`` takes on many accounts.

Creates a throwaway database next to the configured one (Django's test database:
``test_<name>``, or a temporary SQLite file), fills it in bulk with ``--accounts``
accounts of three or four ledger entries each (signup bonus, a training fee, its refund
for every other account, a grant), corrupts a few balances, and times the audit. The
database is dropped at the end. Prints numbers; not a test.

    .venv/bin/python bench/bench_billing_audit.py --accounts 200000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/bench_billing_audit.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from billing.audit import billing_audit  # noqa: E402
from billing.models import CoinAccount, LedgerEntry  # noqa: E402

Kind = LedgerEntry.Kind
BATCH = 5000
CORRUPTED = 25


def fill(accounts: int) -> None:
    bonus, fee, grant = Decimal("500.00"), Decimal("1.23"), Decimal("0.10")
    User = get_user_model()
    for start in range(0, accounts, BATCH):
        numbers = range(start, min(start + BATCH, accounts))
        users = User.objects.bulk_create(User(username=f"audit{number}") for number in numbers)
        refunded = {user.pk: number % 2 == 0 for number, user in zip(numbers, users, strict=True)}
        balances = {user.pk: bonus - fee + grant + (fee if refunded[user.pk] else 0) for user in users}
        rows = CoinAccount.objects.bulk_create(
            CoinAccount(user=user, balance=balances[user.pk]) for user in users
        )
        first = LedgerEntry.objects.bulk_create(
            entry
            for account in rows
            for entry in (
                LedgerEntry(account=account, kind=Kind.SIGNUP_BONUS, amount=bonus, balance_after=bonus),
                LedgerEntry(account=account, kind=Kind.TRAINING_FEE, amount=-fee, balance_after=bonus - fee),
            )
        )
        charges = first[1::2]
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                account=charge.account, kind=Kind.REFUND, amount=fee, balance_after=bonus, refund_of=charge
            )
            for charge in charges
            if refunded[charge.account.user_id]
        )
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                account=account, kind=Kind.GRANT, amount=grant, balance_after=balances[account.user_id]
            )
            for account in rows
        )
        print(f"  {min(start + BATCH, accounts):,} accounts", end="\r", flush=True)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="print each query's plan (PostgreSQL)")
    arguments = parser.parse_args()

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"{connection.vendor}: filling {arguments.accounts:,} accounts …")
        started = time.perf_counter()
        fill(arguments.accounts)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(
            f"filled in {time.perf_counter() - started:.1f} s: {CoinAccount.objects.count():,} accounts, "
            f"{LedgerEntry.objects.count():,} entries"
        )
        for run in range(arguments.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                problems = billing_audit()
                took = time.perf_counter() - started
            print(f"clean audit #{run + 1}: {took:.2f} s, {len(queries)} queries, {len(problems)} problems")
        if arguments.explain and connection.vendor == "postgresql":
            for query in queries.captured_queries:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
                    print(query["sql"][:300], "\n  " + "\n  ".join(row[0] for row in cursor.fetchall()))
        for account in CoinAccount.objects.order_by("pk")[:CORRUPTED]:
            CoinAccount.objects.filter(pk=account.pk).update(balance=Decimal("7.00"))
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            problems = billing_audit()
            took = time.perf_counter() - started
        print(
            f"audit with {CORRUPTED} corrupted balances: {took:.2f} s, {len(queries)} queries, {len(problems)} problems"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()

"""billing_audit: each kind of corruption is found, and the number of queries does not
grow with the number of accounts."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.audit import billing_audit
from billing.models import CoinAccount, LedgerEntry
from billing.services import account_debit, charge_refund

Kind = LedgerEntry.Kind
FEE = Kind.TRAINING_FEE

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="drops a unique constraint inside the test's transaction (transactional DDL)",
)


def _accounts(count: int, *, prefix: str, balance: Decimal = Decimal("500.00")) -> list[CoinAccount]:
    """``count`` accounts with a signup bonus each, written in bulk (the audit is what is
    measured, not the services)."""
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"{prefix}{number}") for number in range(count)
    )
    accounts = CoinAccount.objects.bulk_create(CoinAccount(user=user, balance=balance) for user in users)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(account=account, kind=Kind.SIGNUP_BONUS, amount=balance, balance_after=balance)
        for account in accounts
    )
    return accounts


def _audit_queries() -> tuple[list[str], int]:
    with CaptureQueriesContext(connection) as queries:
        problems = billing_audit()
    return problems, len(queries)


def test_the_audit_runs_the_same_queries_for_3_or_60_accounts(db):
    few = _accounts(3, prefix="few")
    charge = account_debit(user=few[0].user, amount=Decimal("1.23"), kind=FEE)
    charge_refund(charge=charge)
    clean, queries_for_few = _audit_queries()
    assert clean == []

    _accounts(57, prefix="many")
    clean, queries_for_many = _audit_queries()
    assert clean == []
    assert queries_for_many == queries_for_few <= 7


def test_corrupt_accounts_are_loaded_and_reported_without_more_queries(db):
    accounts = _accounts(60, prefix="bulk")
    _, clean_queries = _audit_queries()
    for account in accounts[:10]:
        CoinAccount.objects.filter(pk=account.pk).update(balance=Decimal("1.00"))

    problems, queries = _audit_queries()
    assert queries == clean_queries
    assert len([p for p in problems if "but its entries add up to 500.00" in p]) == 10


def test_a_tampered_balance_is_reported_twice_over(alice, bob):
    CoinAccount.objects.filter(user=bob).update(balance=Decimal("9999.00"))
    account = bob.coin_account
    assert billing_audit() == [
        f"account {account.pk} (bob): balance 9999.00 but its entries add up to 500.00",
        f"account {account.pk} (bob): last entry says balance 500.00 but the account holds 9999.00",
    ]


def test_a_last_entry_that_disagrees_with_the_balance_is_reported(alice):
    # The entries add up, but the newest one recorded the wrong balance after it.
    account = alice.coin_account
    LedgerEntry.objects.create(
        account=account, kind=Kind.ADJUSTMENT, amount=Decimal("1.00"), balance_after=Decimal("42.00")
    )
    CoinAccount.objects.filter(pk=account.pk).update(balance=Decimal("501.00"))
    assert billing_audit() == [
        f"account {account.pk} (alice): last entry says balance 42.00 but the account holds 501.00"
    ]


def test_sums_of_cents_do_not_drift(alice):
    # Many entries of 0.01 and 0.1 would not add up exactly as floating point on SQLite.
    account = alice.coin_account
    balance = account.balance
    for amount in [Decimal("0.10")] * 30 + [Decimal("-0.01")] * 7 + [Decimal("0.07")] * 11:
        balance += amount
        LedgerEntry.objects.create(
            account=account, kind=Kind.ADJUSTMENT, amount=amount, balance_after=balance
        )
    CoinAccount.objects.filter(pk=account.pk).update(balance=balance)
    assert billing_audit() == []


def test_a_refund_that_does_not_mirror_its_charge_is_reported(alice):
    account = alice.coin_account
    charge = account_debit(user=alice, amount=Decimal("10.00"), kind=FEE)
    short = LedgerEntry.objects.create(
        account=account,
        kind=Kind.REFUND,
        amount=Decimal("4.00"),
        balance_after=Decimal("494.00"),
        refund_of=charge,
    )
    CoinAccount.objects.filter(pk=account.pk).update(balance=Decimal("494.00"))
    assert billing_audit() == [f"refund {short.pk} gives back 4.00 for charge {charge.pk} of -10.00"]


def test_a_refund_to_another_account_is_reported(alice, bob):
    charge = account_debit(user=alice, amount=Decimal("10.00"), kind=FEE)
    elsewhere = LedgerEntry.objects.create(
        account=bob.coin_account,
        kind=Kind.REFUND,
        amount=Decimal("10.00"),
        balance_after=Decimal("510.00"),
        refund_of=charge,
    )
    CoinAccount.objects.filter(pk=bob.coin_account.pk).update(balance=Decimal("510.00"))
    assert billing_audit() == [f"refund {elsewhere.pk} gives back 10.00 for charge {charge.pk} of -10.00"]


def test_a_refund_of_something_that_is_not_a_charge_is_reported(alice):
    account = alice.coin_account
    bonus = LedgerEntry.objects.get(account=account, kind=Kind.SIGNUP_BONUS)
    refund = LedgerEntry.objects.create(
        account=account,
        kind=Kind.REFUND,
        amount=Decimal("5.00"),
        balance_after=Decimal("505.00"),
        refund_of=bonus,
    )
    CoinAccount.objects.filter(pk=account.pk).update(balance=Decimal("505.00"))
    assert billing_audit() == [f"refund {refund.pk} does not undo a charge"]


def test_a_credit_with_a_negative_amount_has_the_wrong_sign(alice):
    account = alice.coin_account
    grant = LedgerEntry.objects.create(
        account=account, kind=Kind.GRANT, amount=Decimal("-5.00"), balance_after=Decimal("495.00")
    )
    CoinAccount.objects.filter(pk=account.pk).update(balance=Decimal("495.00"))
    assert billing_audit() == [f"entry {grant.pk}: a grant of -5.00 has the wrong sign"]


def _drop_unique(*columns: str) -> None:
    """Let the database accept what one of its unique constraints forbids, inside the
    test's transaction: PostgreSQL rolls the DDL back with it."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, LedgerEntry._meta.db_table)
    table = LedgerEntry._meta.db_table
    with connection.cursor() as cursor:
        # PostgreSQL alters no table with foreign-key checks still pending: run them now
        # (they pass), and defer the next ones again.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, details in found.items():
            if details["unique"] and not details["primary_key"] and details["columns"] == list(columns):
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
                cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _post_raw(account: CoinAccount, **fields) -> LedgerEntry:
    """An entry written behind the services' back, with the balance kept in step so
    that only the problem under test shows."""
    balance = CoinAccount.objects.get(pk=account.pk).balance + fields["amount"]
    CoinAccount.objects.filter(pk=account.pk).update(balance=balance)
    return LedgerEntry.objects.create(account=account, balance_after=balance, **fields)


@postgres_only
def test_a_job_charged_twice_is_reported(alice):
    from mlmodels.models import Algorithm, TrainedModel

    algorithm = Algorithm.objects.create(key="audit_algorithm", name="Audit", task="classification")
    model = TrainedModel.objects.create(
        owner=alice, name="audited", algorithm=algorithm, task="classification", target="label"
    )
    _drop_unique("model_id")
    for _ in range(2):
        account_debit(user=alice, amount=Decimal("1.00"), kind=FEE, model=model)
    assert billing_audit() == [f"model {model.pk} charged 2 times"]


@postgres_only
def test_a_charge_refunded_twice_is_reported(alice):
    charge = account_debit(user=alice, amount=Decimal("3.00"), kind=FEE)
    charge_refund(charge=charge)
    _drop_unique("refund_of_id")
    _post_raw(alice.coin_account, kind=Kind.REFUND, amount=Decimal("3.00"), refund_of=charge)
    assert billing_audit() == [f"charge {charge.pk} refunded 2 times"]

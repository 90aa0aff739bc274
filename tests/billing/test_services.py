import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from billing.audit import billing_audit
from billing.models import CoinAccount, LedgerEntry
from billing.services import (
    InsufficientFunds,
    account_debit,
    account_grant,
    charge_refund,
    coins,
    cost_of,
)
from core.errors import InvalidInput

FEE = LedgerEntry.Kind.TRAINING_FEE


def test_registering_opens_one_account_with_the_signup_bonus(alice):
    assert CoinAccount.objects.filter(user=alice).count() == 1
    assert alice.coin_account.balance == Decimal("500.00")
    entries = LedgerEntry.objects.filter(account__user=alice)
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("signup_bonus", Decimal("500.00"), Decimal("500.00"))
    ]


def test_a_debit_below_zero_is_refused_and_writes_nothing(alice):
    before = LedgerEntry.objects.count()
    with pytest.raises(InsufficientFunds) as raised:
        account_debit(user=alice, amount=Decimal("500.01"), kind=FEE)
    assert raised.value.status_code == 402
    assert raised.value.extra == {"balance": "500.00", "cost": "500.01"}
    alice.coin_account.refresh_from_db()
    assert alice.coin_account.balance == Decimal("500.00")
    assert LedgerEntry.objects.count() == before


def test_a_debit_to_exactly_zero_is_allowed(alice):
    entry = account_debit(user=alice, amount=Decimal("500.00"), kind=FEE)
    assert entry.balance_after == Decimal("0.00")
    assert billing_audit() == []


def test_a_refund_gives_back_the_charge_once(alice):
    charge = account_debit(user=alice, amount=Decimal("12.34"), kind=FEE)
    refund = charge_refund(charge=charge)
    assert refund.amount == Decimal("12.34") and refund.refund_of == charge
    assert charge_refund(charge=charge) is None
    alice.coin_account.refresh_from_db()
    assert alice.coin_account.balance == Decimal("500.00")
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_ledger_entries_cannot_be_edited_or_deleted(alice):
    entry = LedgerEntry.objects.get(account__user=alice)
    entry.amount = Decimal("1000.00")
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1"))
    with pytest.raises(TypeError):
        LedgerEntry.objects.all().delete()


def test_the_database_refuses_a_negative_balance(alice):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        CoinAccount.objects.filter(pk=alice.coin_account.pk).update(balance=Decimal("-1.00"))


def test_a_grant_records_the_operator(alice, staff):
    entry = account_grant(user=alice, amount="25.50", granted_by=staff, memo="conference credit")
    assert (entry.kind, entry.amount, entry.created_by, entry.memo) == (
        "grant",
        Decimal("25.50"),
        staff,
        "conference credit",
    )
    assert entry.balance_after == Decimal("525.50")


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "Must be greater than 0."),
        ("-5", "Must be greater than 0."),
        ("abc", "A valid number is required."),
        ("NaN", "A valid number is required."),
        ("Infinity", "A valid number is required."),
        ("1.001", "Use at most two decimal places."),
        (1.5, 'Send the amount as a string or an integer, e.g. "10.00".'),
        (True, 'Send the amount as a string or an integer, e.g. "10.00".'),
    ],
)
def test_bad_amounts_are_refused_with_a_reason(value, message):
    with pytest.raises(InvalidInput) as raised:
        coins(value)
    assert raised.value.errors == {"amount": [message]}


def test_cost_rounds_up_to_the_cent():
    assert cost_of(rows=3, price_per_row=Decimal("0.001")) == Decimal("0.01")
    assert cost_of(rows=1000, price_per_row=Decimal("0.0125")) == Decimal("12.50")
    assert cost_of(rows=7, price_per_row=Decimal("0.0101")) == Decimal("0.08")


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw(alice):
    """20 debits of 70.00 race for 500.00: exactly 7 win, the balance stays ≥ 0."""
    results: list[str] = []
    barrier = threading.Barrier(20)

    def debit():
        try:
            barrier.wait()
            account_debit(user=alice, amount=Decimal("70.00"), kind=FEE)
            results.append("charged")
        except InsufficientFunds:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=debit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count("charged") == 7
    assert results.count("refused") == 13
    alice.coin_account.refresh_from_db()
    assert alice.coin_account.balance == Decimal("10.00")
    assert LedgerEntry.objects.filter(kind=FEE).count() == 7
    assert billing_audit() == []


def test_billing_audit_is_clean_after_normal_use(alice, bob):
    charge = account_debit(user=alice, amount=Decimal("5.00"), kind=FEE)
    charge_refund(charge=charge)
    account_debit(user=bob, amount=Decimal("1.00"), kind=FEE)
    call_command("billing_audit")
    assert billing_audit() == []


def test_billing_audit_catches_a_tampered_balance(alice, bob, capsys):
    # Somebody edits a balance behind the services' back.
    CoinAccount.objects.filter(user=bob).update(balance=Decimal("9999.00"))
    with pytest.raises(CommandError, match="billing audit found"):
        call_command("billing_audit")
    err = capsys.readouterr().err
    assert "(bob): balance 9999.00 but its entries add up to 500.00" in err
    assert "alice" not in err

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from billing.models import CoinAccount, LedgerEntry


def balance_for_user(*, user) -> Decimal:
    # A user made by createsuperuser has no account until coins first move: 0.00.
    balance = CoinAccount.objects.filter(user=user).values_list("balance", flat=True).first()
    return balance if balance is not None else Decimal("0.00")


def ledger_for_user(*, user) -> QuerySet[LedgerEntry]:
    """The user's own entries, newest first; nobody else's are reachable from here."""
    return LedgerEntry.objects.filter(account__user=user).order_by("-created_at", "-id")

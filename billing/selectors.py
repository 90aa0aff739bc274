from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from billing.models import CoinAccount, LedgerEntry


def balance_for_user(*, user) -> Decimal:
    return CoinAccount.objects.values_list("balance", flat=True).get(user=user)


def ledger_for_user(*, user) -> QuerySet[LedgerEntry]:
    """The user's own entries, newest first; nobody else's are reachable from here."""
    return LedgerEntry.objects.filter(account__user=user).order_by("-created_at", "-id")

"""Tasks for tests that need a real worker to write to the database."""

from decimal import Decimal


def ledger_churn(user_id: int, times: int) -> int:
    from accounts.models import User
    from billing.models import LedgerEntry
    from billing.services import account_credit

    user = User.objects.get(pk=user_id)
    for _ in range(times):
        account_credit(user=user, amount=Decimal("1.00"), kind=LedgerEntry.Kind.ADJUSTMENT, memo="churn")
    return times

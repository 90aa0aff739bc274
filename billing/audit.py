"""The billing audit: every way the books can be wrong, found by the database.

A read, not a write, so it lives apart from billing.services. Every check is one
set-based query whatever the number of accounts or entries (seven queries in all), and
only the offending rows come back to Python: the audit runs in seconds on a million
accounts, and a clean ledger loads nothing.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, DecimalField, F, Func, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import COINS, CoinAccount, LedgerEntry

Kind = LedgerEntry.Kind
CENT = Decimal("0.01")
CREDIT_KINDS = (Kind.SIGNUP_BONUS, Kind.TOPUP, Kind.GRANT, Kind.REFUND)


class Exact(Func):
    """An amount of coins as the database compares it exactly: the numeric itself on
    PostgreSQL; whole cents on SQLite, which keeps decimals as floating point (thirty
    entries of 0.10 add up to 2.9999999999999996 there, not to a balance of 3.00)."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="CAST(ROUND(%(expressions)s * 100) AS INTEGER)", **extra_context
        )


def _coins(value) -> Decimal:
    # SQLite hands computed decimals back unscaled (42 for 42.00).
    return Decimal(value).quantize(CENT)


def _account_problems() -> list[str]:
    """Balances that differ from the sum of their entries, are negative, or differ
    from what their last entry says. Two queries: the entries summed by a join grouped
    by account (one pass over the ledger), and the last entry of each account (one
    probe of the (account, -created_at, -id) index each); only the accounts that fail
    a check come back."""
    found: dict[int, list[str]] = {}

    def report(account: CoinAccount, problem: str) -> None:
        found.setdefault(account.pk, []).append(f"account {account.pk} ({account.user}): {problem}")

    # Grouped without the users (a join to them would be grouped and sorted too); the
    # few offending accounts are then read with their users and their sums.
    unbalanced_ids = (
        CoinAccount.objects.alias(
            exact_entries=Coalesce(
                Sum(Exact("entries__amount")), Value(0), output_field=DecimalField(**COINS)
            )
        )
        .filter(~Q(exact_entries=Exact("balance")) | Q(balance__lt=0))
        .values("pk")
    )
    entries_total = (
        LedgerEntry.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    unbalanced = (
        CoinAccount.objects.filter(pk__in=unbalanced_ids)
        .annotate(entries_total=Subquery(entries_total, output_field=DecimalField(**COINS)))
        .select_related("user")
    )
    for account in unbalanced:
        total = _coins(account.entries_total or 0)
        if account.balance != total:
            report(account, f"balance {account.balance} but its entries add up to {total}")
        if account.balance < 0:
            report(account, "negative balance")

    last_entry = LedgerEntry.objects.filter(account=OuterRef("pk")).order_by("-created_at", "-id")
    last_balance = Subquery(last_entry.values("balance_after")[:1], output_field=DecimalField(**COINS))
    contradicted = (
        CoinAccount.objects.alias(exact_last=Exact(last_balance))
        .annotate(last_balance=last_balance)
        .exclude(exact_last=Exact("balance"))
        .select_related("user")
    )
    for account in contradicted:
        if account.last_balance is not None:
            report(
                account,
                f"last entry says balance {_coins(account.last_balance)} but the account holds {account.balance}",
            )
    return [problem for account_id in sorted(found) for problem in found[account_id]]


def _doubled_charges() -> list[str]:
    """Jobs charged more than once (the partial unique constraints forbid it; the
    audit does not take their word for it). One GROUP BY … HAVING over every job
    column: a charge names exactly one job."""
    columns = {
        Kind.PREDICTION_CHARGE: "prediction",
        Kind.TRAINING_FEE: "model",
        Kind.EXPERIMENT_CHARGE: "experiment",
    }
    doubled = (
        LedgerEntry.objects.filter(kind__in=list(columns))
        .order_by()
        .values("kind", *columns.values())
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("kind", *columns.values())
    )
    problems = []
    for row in doubled:
        field = columns[row["kind"]]
        if row[field] is not None:
            problems.append(f"{field} {row[field]} charged {row['n']} times")
    return problems


def _refund_problems() -> list[str]:
    """Charges refunded twice, and refunds that do not give back exactly their charge
    (or, for a charge refundable in part, more than nothing and at most the charge), to
    the same account."""
    refunded_twice = (
        LedgerEntry.objects.filter(kind=Kind.REFUND)
        .order_by()
        .values("refund_of")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("refund_of")
    )
    problems = [f"charge {row['refund_of']} refunded {row['n']} times" for row in refunded_twice]
    not_mirrored = (
        LedgerEntry.objects.filter(kind=Kind.REFUND)
        .filter(
            Q(refund_of__isnull=True)
            | ~Q(refund_of__kind__in=LedgerEntry.CHARGE_KINDS)
            | (~Q(refund_of__kind__in=LedgerEntry.PARTLY_REFUNDABLE) & ~Q(amount=-F("refund_of__amount")))
            | (Q(refund_of__kind__in=LedgerEntry.PARTLY_REFUNDABLE) & Q(amount__gt=-F("refund_of__amount")))
            | Q(amount__lte=0)
            | ~Q(account_id=F("refund_of__account_id"))
        )
        .order_by("pk")
        .values_list("pk", "amount", "refund_of", "refund_of__kind", "refund_of__amount")
    )
    for refund_id, amount, charge_id, charge_kind, charge_amount in not_mirrored:
        if charge_id is None or charge_kind not in LedgerEntry.CHARGE_KINDS:
            problems.append(f"refund {refund_id} does not undo a charge")
        else:
            problems.append(
                f"refund {refund_id} gives back {amount} for charge {charge_id} of {charge_amount}"
            )
    return problems


def _wrong_signs() -> list[str]:
    bad_signs = (
        LedgerEntry.objects.filter(
            Q(kind__in=CREDIT_KINDS, amount__lt=0) | Q(kind__in=LedgerEntry.CHARGE_KINDS, amount__gt=0)
        )
        .order_by("pk")
        .values_list("pk", "kind", "amount")
    )
    return [f"entry {pk}: a {kind} of {amount} has the wrong sign" for pk, kind, amount in bad_signs]


def billing_audit() -> list[str]:
    """Every way the books can be wrong, as sentences; an empty list means clean."""
    return _account_problems() + _doubled_charges() + _refund_problems() + _wrong_signs()

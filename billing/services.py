"""The only code that moves coins. Every function here locks the account row inside a
transaction, changes the balance and writes exactly one LedgerEntry that explains it.

Callers that must do more in the same transaction (create a job, enqueue it on commit)
wrap the call in their own ``transaction.atomic()``; these functions then run inside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from billing.models import CoinAccount, IdempotencyKey, LedgerEntry
from mlservice.errors import Conflict, InvalidInput, NotAllowed, ServiceError

CENT = Decimal("0.01")
# The largest single movement of coins; balances are 14 digits with 2 decimals.
LARGEST = Decimal("1000000000.00")
Kind = LedgerEntry.Kind


class InsufficientFunds(ServiceError):
    status_code = 402

    def __init__(self, *, balance: Decimal, amount: Decimal):
        super().__init__(
            f"Not enough coins: this costs {amount} and your balance is {balance}.",
            balance=str(balance),
            cost=str(amount),
        )
        self.balance = balance
        self.amount = amount


def coins(value: Any, *, field: str = "amount", maximum: Decimal | None = None) -> Decimal:
    """Parse a positive amount of coins with at most two decimal places, or raise
    InvalidInput naming ``field``. Floats are refused: they cannot say 0.1 exactly."""
    if isinstance(value, (bool, float)):
        raise InvalidInput(
            f'{field} must be a decimal string such as "10.00".',
            {field: ['Send the amount as a string or an integer, e.g. "10.00".']},
        )
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput("Amount is not a number.", {field: ["A valid number is required."]}) from None
    if not amount.is_finite():
        raise InvalidInput("Amount is not a number.", {field: ["A valid number is required."]})
    if amount <= 0:
        raise InvalidInput("Amount must be positive.", {field: ["Must be greater than 0."]})
    maximum = min(maximum, LARGEST) if maximum is not None else LARGEST
    if amount > maximum:
        raise InvalidInput(
            f"Amount is above the limit of {maximum}.", {field: [f"Must be at most {maximum}."]}
        )
    if amount != amount.quantize(CENT):
        raise InvalidInput(
            "Amount has more than two decimal places.",
            {field: ["Use at most two decimal places."]},
        )
    return amount.quantize(CENT)


def cost_of(*, rows: int, price_per_row: Decimal) -> Decimal:
    """rows × price, rounded up to the next cent (never down: we do not give away
    fractions)."""
    return (Decimal(rows) * price_per_row).quantize(CENT, rounding=ROUND_CEILING)


def _locked_account(*, user) -> CoinAccount:
    # select_for_update serialises concurrent debits on PostgreSQL; on SQLite the
    # IMMEDIATE transaction mode takes the database write lock at BEGIN instead.
    # Users made outside user_register (createsuperuser, the admin's "Add user") have no
    # account yet: the first movement of coins opens an empty one (no bonus).
    account, _ = CoinAccount.objects.select_for_update().get_or_create(user=user)
    return account


def _post(
    *,
    account: CoinAccount,
    amount: Decimal,
    kind: str,
    memo: str = "",
    created_by=None,
    prediction=None,
    model=None,
    refund_of: LedgerEntry | None = None,
) -> LedgerEntry:
    new_balance = account.balance + amount
    if new_balance < 0:
        raise InsufficientFunds(balance=account.balance, amount=-amount)
    account.balance = new_balance
    account.save(update_fields=["balance", "updated_at"])
    return LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=new_balance,
        memo=memo[:255],
        created_by=created_by,
        prediction=prediction,
        model=model,
        refund_of=refund_of,
    )


def account_open(*, user) -> CoinAccount:
    """Open ``user``'s coin account with the signup bonus (if any) as its first entry."""
    with transaction.atomic():
        account = CoinAccount.objects.create(user=user)
        bonus = settings.SIGNUP_BONUS.quantize(CENT)
        if bonus > 0:
            # The row was created in this transaction, so nobody else can hold it.
            _post(account=account, amount=bonus, kind=Kind.SIGNUP_BONUS, memo="Welcome bonus")
    return account


def account_credit(*, user, amount: Decimal, kind: str, memo: str = "", created_by=None) -> LedgerEntry:
    """Add coins (top-up, operator grant or adjustment)."""
    if kind not in (Kind.TOPUP, Kind.GRANT, Kind.ADJUSTMENT, Kind.SIGNUP_BONUS):
        raise ValueError(f"{kind} is not a credit")
    amount = coins(amount)
    with transaction.atomic():
        account = _locked_account(user=user)
        return _post(account=account, amount=amount, kind=kind, memo=memo, created_by=created_by)


def account_topup(*, user, amount: Any) -> LedgerEntry:
    """A user buys coins for themselves (only while BILLING_SELF_TOPUP is on)."""
    if not settings.BILLING_SELF_TOPUP:
        raise NotAllowed("Self top-up is turned off on this service; ask an operator for coins.")
    amount = coins(amount, maximum=settings.TOPUP_MAX_AMOUNT)
    return account_credit(user=user, amount=amount, kind=Kind.TOPUP, memo="Top-up")


def account_grant(*, user, amount: Any, granted_by, memo: str = "") -> LedgerEntry:
    """An operator gives coins to a user; the entry records who granted them."""
    amount = coins(amount)
    return account_credit(
        user=user,
        amount=amount,
        kind=Kind.GRANT,
        memo=memo or "Granted by operator",
        created_by=granted_by,
    )


def account_debit(
    *, user, amount: Decimal, kind: str, memo: str = "", prediction=None, model=None
) -> LedgerEntry:
    """Charge ``amount`` (> 0) for a job. Raises InsufficientFunds (→ 402) and writes
    nothing when the balance would go below zero."""
    if kind not in LedgerEntry.CHARGE_KINDS:
        raise ValueError(f"{kind} is not a charge")
    if amount <= 0 or amount != amount.quantize(CENT):
        raise ValueError(f"a charge must be a positive number of cents, got {amount}")
    with transaction.atomic():
        account = _locked_account(user=user)
        return _post(
            account=account, amount=-amount, kind=kind, memo=memo, prediction=prediction, model=model
        )


def charge_refund(*, charge: LedgerEntry, memo: str = "") -> LedgerEntry | None:
    """Undo ``charge`` in full. Returns the refund entry, or None when the charge was
    refunded already: a refund can never happen twice (the one-to-one ``refund_of``
    column backs this up in the database)."""
    if charge.kind not in LedgerEntry.CHARGE_KINDS:
        raise ValueError(f"only charges can be refunded, not {charge.kind}")
    with transaction.atomic():
        account = CoinAccount.objects.select_for_update().get(pk=charge.account_id)
        if LedgerEntry.objects.filter(refund_of=charge).exists():
            return None
        return _post(
            account=account,
            amount=-charge.amount,
            kind=Kind.REFUND,
            memo=memo or f"Refund of {charge.get_kind_display().lower()}",
            prediction=charge.prediction,
            model=charge.model,
            refund_of=charge,
        )


# --- Idempotency-Key ---------------------------------------------------------------------


def request_fingerprint(payload: Any) -> str:
    encoded = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass
class IdempotentAnswer:
    status: int
    body: Any
    replayed: bool


def idempotent_call(
    *,
    user,
    scope: str,
    key: str | None,
    fingerprint: str,
    call: Callable[[], tuple[int, Any]],
) -> IdempotentAnswer:
    """Run ``call`` once per (user, scope, key). A repeat with the same fingerprint gets
    the stored first answer; another fingerprint is a 409. Only successful answers are
    stored, so a request refused for lack of coins may be retried with the same key.

    The key row is inserted first, inside the same transaction as the charge: a
    concurrent duplicate blocks on the unique index until the first commits, then finds
    its answer, so two racing retries can never both charge."""
    if not key:
        status, body = call()
        return IdempotentAnswer(status, body, replayed=False)
    if len(key) > 255:
        raise InvalidInput("Idempotency-Key is too long.", {"Idempotency-Key": ["At most 255 characters."]})
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=user, scope=scope, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            record = IdempotencyKey.objects.get(user=user, scope=scope, key=key)
            if record.fingerprint != fingerprint:
                raise Conflict(
                    "This Idempotency-Key was already used with a different request body.",
                    {"Idempotency-Key": ["Use a new key for a different request."]},
                ) from None
            return IdempotentAnswer(record.response_status, record.response_body, replayed=True)
        status, body = call()
        record.response_status = status
        record.response_body = body
        record.save(update_fields=["response_status", "response_body"])
        return IdempotentAnswer(status, body, replayed=False)


# --- Audit -----------------------------------------------------------------------------


def billing_audit() -> list[str]:
    """Every way the books can be wrong, as sentences; an empty list means clean."""
    problems: list[str] = []
    sums = {
        # quantize: SQLite's SUM drops the scale (500 instead of 500.00).
        row["account"]: (row["total"] or Decimal("0")).quantize(CENT)
        for row in LedgerEntry.objects.values("account").annotate(total=Sum("amount"))
    }
    for account in CoinAccount.objects.select_related("user").order_by("pk"):
        total = sums.get(account.pk, Decimal("0.00"))
        if account.balance != total:
            problems.append(
                f"account {account.pk} ({account.user}): balance {account.balance} "
                f"but its entries add up to {total}"
            )
        if account.balance < 0:
            problems.append(f"account {account.pk} ({account.user}): negative balance")
        last = LedgerEntry.objects.filter(account=account).order_by("-created_at", "-id").first()
        if last is not None and last.balance_after != account.balance:
            problems.append(
                f"account {account.pk} ({account.user}): last entry says balance "
                f"{last.balance_after} but the account holds {account.balance}"
            )
    for field, kind in (("prediction", Kind.PREDICTION_CHARGE), ("model", Kind.TRAINING_FEE)):
        doubled = (
            LedgerEntry.objects.filter(kind=kind, **{f"{field}__isnull": False})
            .values(field)
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        for row in doubled:
            problems.append(f"{field} {row[field]} charged {row['n']} times")
    refunded_twice = (
        LedgerEntry.objects.filter(kind=Kind.REFUND)
        .values("refund_of")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    for row in refunded_twice:
        problems.append(f"charge {row['refund_of']} refunded {row['n']} times")
    for refund in LedgerEntry.objects.filter(kind=Kind.REFUND).select_related("refund_of"):
        charge = refund.refund_of
        if charge is None or charge.kind not in LedgerEntry.CHARGE_KINDS:
            problems.append(f"refund {refund.pk} does not undo a charge")
        elif refund.amount != -charge.amount or refund.account_id != charge.account_id:
            problems.append(
                f"refund {refund.pk} gives back {refund.amount} for charge {charge.pk} of {charge.amount}"
            )
    bad_signs = LedgerEntry.objects.filter(
        Q(kind__in=[Kind.SIGNUP_BONUS, Kind.TOPUP, Kind.GRANT, Kind.REFUND], amount__lt=0)
        | Q(kind__in=list(LedgerEntry.CHARGE_KINDS), amount__gt=0)
    )
    for entry in bad_signs:
        problems.append(f"entry {entry.pk}: a {entry.kind} of {entry.amount} has the wrong sign")
    return problems

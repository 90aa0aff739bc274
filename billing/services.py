"""The only code that moves coins. Every function here locks the account row inside a
transaction, changes the balance and writes exactly one LedgerEntry that explains it.

Callers that must do more in the same transaction (create a job, enqueue it on commit)
wrap the call in their own ``transaction.atomic()``; these functions then run inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction

from billing.models import CoinAccount, LedgerEntry
from core.counters import counter_name, counters_add
from core.errors import InvalidInput, NotAllowed, ServiceError
from core.idempotency import idempotent_call, request_fingerprint

CENT = Decimal("0.01")
ZERO = Decimal("0")


def _column_max(field_name: str) -> Decimal:
    field = LedgerEntry._meta.get_field(field_name)
    return Decimal(10) ** (field.max_digits - field.decimal_places) - Decimal(1).scaleb(-field.decimal_places)


# The largest amount a ledger entry (and a job's cost column) can hold: 999,999,999,999.99.
# PostgreSQL refuses a larger one with an error; SQLite would store it. Checked in code.
LEDGER_MAX_AMOUNT = _column_max("amount")
# The largest single movement of coins; balances are 14 digits with 2 decimals.
LARGEST = Decimal("1000000000.00")
Kind = LedgerEntry.Kind
# Shared counters (core.counters) raised by every entry: ledger_entries{kind} and
# ledger_cents{kind,direction}, direction "credit" (amount > 0) or "debit".
LEDGER_ENTRIES = "ledger_entries"
LEDGER_CENTS = "ledger_cents"


class CostTooLarge(ServiceError):
    status_code = 400

    def __init__(self, *, cost: Decimal, how: str):
        super().__init__(
            f"This would cost {cost:,} coins ({how}), more than the {LEDGER_MAX_AMOUNT:,} one charge "
            "can be. Send fewer rows, or ask an operator about the price.",
            {"cost": [f"{cost:,} is above the limit of {LEDGER_MAX_AMOUNT:,}."]},
            cost=str(cost),
            limit=str(LEDGER_MAX_AMOUNT),
        )


def cost_within_ledger(cost: Decimal, *, how: str) -> Decimal:
    """``cost``, or CostTooLarge (400) when no ledger entry could hold it: checked
    before a job row or a charge is written."""
    if cost > LEDGER_MAX_AMOUNT:
        raise CostTooLarge(cost=cost, how=how)
    return cost


class InsufficientFunds(ServiceError):
    status_code = 402

    def __init__(self, *, balance: Decimal, amount: Decimal, quote: Quote | None = None):
        how = f" ({quote.formula})" if quote is not None else ""
        super().__init__(
            f"Not enough coins: this costs {amount}{how} and your balance is {balance}.",
            balance=str(balance),
            cost=str(amount),
            **(quote.as_fields() if quote is not None else {}),
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


def _price_text(price: Decimal) -> str:
    return f"{price.normalize():f}"


def cost_formula(*, rows: int, price_per_row: Decimal, price_per_request: Decimal = ZERO) -> str:
    """How a cost is made, in words shown before paying and kept in the ledger memo:
    "5 per request + 1,000 rows × 0.01" (the flat part only when there is one)."""
    per_rows = f"{rows:,} row{'s' if rows != 1 else ''} × {_price_text(price_per_row)}"
    return f"{_price_text(price_per_request)} per request + {per_rows}" if price_per_request else per_rows


@dataclass(frozen=True)
class Quote:
    """What a prediction of ``rows`` rows costs, and why."""

    rows: int
    price_per_row: Decimal
    price_per_request: Decimal
    cost: Decimal

    @property
    def formula(self) -> str:
        return cost_formula(
            rows=self.rows, price_per_row=self.price_per_row, price_per_request=self.price_per_request
        )

    def as_fields(self) -> dict[str, str | int]:
        """The quote's parts as top-level fields of an API answer (a 402's body)."""
        return {
            "rows": self.rows,
            "price_per_request": str(self.price_per_request),
            "price_per_row": str(self.price_per_row),
            "cost_formula": self.formula,
        }


def cost_quote(*, rows: int, price_per_row: Decimal, price_per_request: Decimal = ZERO) -> Quote:
    """The one pricing rule: price per request + rows × price per row, rounded up to the
    next cent (never down: we do not give away fractions). CostTooLarge when the ledger
    could not hold it."""
    exact = price_per_request + Decimal(rows) * price_per_row
    cost = exact.quantize(CENT, rounding=ROUND_CEILING)
    quote = Quote(rows=rows, price_per_row=price_per_row, price_per_request=price_per_request, cost=cost)
    cost_within_ledger(cost, how=quote.formula)
    return quote


def cost_of(*, rows: int, price_per_row: Decimal, price_per_request: Decimal = ZERO) -> Decimal:
    """The cost alone of ``cost_quote``."""
    return cost_quote(rows=rows, price_per_row=price_per_row, price_per_request=price_per_request).cost


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
    experiment=None,
    refund_of: LedgerEntry | None = None,
    quote: Quote | None = None,
) -> LedgerEntry:
    new_balance = account.balance + amount
    if new_balance < 0:
        raise InsufficientFunds(balance=account.balance, amount=-amount, quote=quote)
    account.balance = new_balance
    account.save(update_fields=["balance", "updated_at"])
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=new_balance,
        memo=memo[:255],
        created_by=created_by,
        prediction=prediction,
        model=model,
        experiment=experiment,
        refund_of=refund_of,
    )
    # Running totals for /metrics, in this transaction: an entry rolled back counts
    # nothing. Whole cents, so the totals are exact integers.
    direction = "credit" if amount > 0 else "debit"
    counters_add(
        {
            counter_name(LEDGER_ENTRIES, kind=kind): 1,
            counter_name(LEDGER_CENTS, kind=kind, direction=direction): int(abs(amount) * 100),
        }
    )
    return entry


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


def account_topup(*, user, amount: Any, idempotency_key: str | None = None) -> LedgerEntry:
    """A user buys coins for themselves (only while BILLING_SELF_TOPUP is on). A retry
    with the same ``idempotency_key`` and amount gets the first entry, credited once."""
    if not settings.BILLING_SELF_TOPUP:
        raise NotAllowed("Self top-up is turned off on this service; ask an operator for coins.")
    amount = coins(amount, maximum=settings.TOPUP_MAX_AMOUNT)
    created: list[LedgerEntry] = []

    def credit() -> tuple[int, dict]:
        created.append(account_credit(user=user, amount=amount, kind=Kind.TOPUP, memo="Top-up"))
        return 201, {"id": created[0].pk}

    answer = idempotent_call(
        user=user,
        scope="topup",
        key=idempotency_key,
        fingerprint=request_fingerprint({"amount": str(amount)}),
        call=credit,
    )
    return created[0] if created else LedgerEntry.objects.get(pk=answer.body["id"], account__user=user)


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
    *,
    user,
    amount: Decimal,
    kind: str,
    memo: str = "",
    prediction=None,
    model=None,
    experiment=None,
    quote: Quote | None = None,
) -> LedgerEntry:
    """Charge ``amount`` (> 0) for a job. Raises InsufficientFunds (→ 402, with the
    ``quote``'s parts when given) and writes nothing when the balance would go below
    zero."""
    if kind not in LedgerEntry.CHARGE_KINDS:
        raise ValueError(f"{kind} is not a charge")
    if amount <= 0 or amount != amount.quantize(CENT):
        raise ValueError(f"a charge must be a positive number of cents, got {amount}")
    # No savepoint inside the caller's transaction (a job's submission, two statements
    # fewer per prediction): a refusal is decided before anything is written and raised
    # after the block, so the caller's transaction stays usable.
    with transaction.atomic(savepoint=False):
        account = _locked_account(user=user)
        if account.balance >= amount:
            return _post(
                account=account,
                amount=-amount,
                kind=kind,
                memo=memo,
                prediction=prediction,
                model=model,
                experiment=experiment,
                quote=quote,
            )
    raise InsufficientFunds(balance=account.balance, amount=amount, quote=quote)


def charge_refund(
    *, charge: LedgerEntry, memo: str = "", amount: Decimal | None = None
) -> LedgerEntry | None:
    """Undo ``charge``: in full, or only ``amount`` of it for a charge that may be
    refunded in part (LedgerEntry.PARTLY_REFUNDABLE: an experiment's trials not run).
    Returns the refund entry, or None when the charge was refunded already or there is
    nothing to give back: a charge is refunded at most once (the one-to-one
    ``refund_of`` column backs this up in the database)."""
    if charge.kind not in LedgerEntry.CHARGE_KINDS:
        raise ValueError(f"only charges can be refunded, not {charge.kind}")
    full = -charge.amount
    if amount is None:
        amount = full
    elif charge.kind not in LedgerEntry.PARTLY_REFUNDABLE and amount != full:
        raise ValueError(f"a {charge.kind} is refunded in full ({full}), not {amount}")
    if amount > full or amount != amount.quantize(CENT):
        raise ValueError(f"a refund of {amount} does not fit the charge of {full}")
    if amount <= 0:
        return None
    with transaction.atomic():
        account = CoinAccount.objects.select_for_update().get(pk=charge.account_id)
        if LedgerEntry.objects.filter(refund_of=charge).exists():
            return None
        return _post(
            account=account,
            amount=amount,
            kind=Kind.REFUND,
            memo=memo or f"Refund of {charge.get_kind_display().lower()}",
            prediction=charge.prediction,
            model=charge.model,
            experiment=charge.experiment,
            refund_of=charge,
        )


def job_refund(
    *, job_field: str, job_id: int, memo: str, amount: Decimal | None = None
) -> LedgerEntry | None:
    """Refund whatever was charged for a job, for any kind of job: ``job_field`` is the
    ledger's column that names it ("prediction", "model", "experiment"); in full, or
    ``amount`` of it where charge_refund allows a part. None when nothing was charged
    (a free job), nothing is to be given back, or it was refunded already."""
    charge = LedgerEntry.objects.filter(
        kind__in=LedgerEntry.CHARGE_KINDS, **{f"{job_field}_id": job_id}
    ).first()
    return None if charge is None else charge_refund(charge=charge, memo=memo, amount=amount)

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

COINS = {"max_digits": 14, "decimal_places": 2}
# The largest price an operator may set: per predicted row, per training, per trial.
# With the row and trial limits every cost stays far inside COINS' 14 digits (the cost
# check in billing.services refuses the rest, whatever the settings).
MAX_PRICE = Decimal("10000")


class CoinAccount(models.Model):
    """A user's prepaid coins. ``balance`` is only ever changed by billing.services,
    together with the LedgerEntry that explains the change."""

    # PROTECT: a user with money history is deactivated, never deleted.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coin_account"
    )
    balance = models.DecimalField(**COINS, default=Decimal("0.00"))
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="coin_account_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.balance} coins"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("ledger entries are append-only")

    def delete(self):
        raise TypeError("ledger entries are append-only")


class LedgerEntry(models.Model):
    """One change of one balance. Entries are never edited or deleted: a mistake is
    undone by a new entry (a refund or an adjustment)."""

    class Kind(models.TextChoices):
        SIGNUP_BONUS = "signup_bonus", "Signup bonus"
        TOPUP = "topup", "Top-up"
        GRANT = "grant", "Grant"
        TRAINING_FEE = "training_fee", "Training fee"
        PREDICTION_CHARGE = "prediction_charge", "Prediction charge"
        EXPERIMENT_CHARGE = "experiment_charge", "Experiment charge"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    CHARGE_KINDS = (Kind.TRAINING_FEE, Kind.PREDICTION_CHARGE, Kind.EXPERIMENT_CHARGE)
    # Charges a refund may give back in part (an experiment's trials not run); any
    # other refund gives back its charge exactly.
    PARTLY_REFUNDABLE = (Kind.EXPERIMENT_CHARGE,)

    account = models.ForeignKey(CoinAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    amount = models.DecimalField(**COINS)
    balance_after = models.DecimalField(**COINS)
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The operator who granted or adjusted, if any.",
    )
    prediction = models.ForeignKey(
        "predictions.Prediction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    model = models.ForeignKey(
        "mlmodels.TrainedModel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    experiment = models.ForeignKey(
        "mlmodels.Experiment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    refund_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunded_by",
        help_text="The charge this refund undoes (one refund per charge at most).",
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["account", "-created_at", "-id"])]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="ledger_balance_after_not_negative"
            ),
            # A refund always names the charge it undoes, and only refunds do.
            models.CheckConstraint(
                condition=(Q(kind="refund") & Q(refund_of__isnull=False))
                | (~Q(kind="refund") & Q(refund_of__isnull=True)),
                name="ledger_refund_names_its_charge",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["training_fee", "prediction_charge", "experiment_charge"])
                | Q(amount__lt=0),
                name="ledger_charges_are_negative",
            ),
            # A job is charged once.
            models.UniqueConstraint(
                fields=["prediction"],
                condition=Q(kind="prediction_charge"),
                name="ledger_one_charge_per_prediction",
            ),
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(kind="training_fee"),
                name="ledger_one_fee_per_model",
            ),
            models.UniqueConstraint(
                fields=["experiment"],
                condition=Q(kind="experiment_charge"),
                name="ledger_one_charge_per_experiment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+} → {self.balance_after}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("ledger entries are append-only")

from decimal import Decimal

from django import forms
from django.conf import settings

from core.forms import IdempotentForm


class TopUpForm(IdempotentForm):
    amount = forms.DecimalField(
        label="Amount (coins)",
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        help_text="Coins to add to your balance.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["amount"].max_value = settings.TOPUP_MAX_AMOUNT
        self.fields["amount"].widget.attrs.update({"max": str(settings.TOPUP_MAX_AMOUNT), "step": "0.01"})
        self.fields["amount"].help_text = f"Coins to add, up to {settings.TOPUP_MAX_AMOUNT} at a time."


class GrantCoinsForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=14, decimal_places=2)
    memo = forms.CharField(max_length=200, required=False)

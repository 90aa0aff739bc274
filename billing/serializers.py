from rest_framework import serializers

from billing.models import LedgerEntry
from core.serializers import RejectUnknownFieldsMixin


class BalanceSerializer(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=14, decimal_places=2)


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "balance_after", "memo", "created_at", "prediction", "model"]
        read_only_fields = fields


class TopUpSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    # A string or integer: the service refuses floats and checks range and precision,
    # so the web form and the API share one rule.
    amount = serializers.JSONField(help_text='Coins to add, e.g. "25.00".')

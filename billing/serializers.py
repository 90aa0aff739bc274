from rest_framework import serializers

from billing.models import LedgerEntry


class BalanceSerializer(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=14, decimal_places=2)


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = ["id", "kind", "amount", "balance_after", "memo", "created_at", "prediction", "model"]
        read_only_fields = fields


class TopUpSerializer(serializers.Serializer):
    # A string or integer: the service refuses floats and checks range and precision,
    # so the web form and the API share one rule.
    amount = serializers.JSONField(help_text='Coins to add, e.g. "25.00".')

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - {"amount"})
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo is an error, not silently ignored."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class RegisterSerializer(StrictSerializer):
    username = serializers.CharField(max_length=1000, trim_whitespace=True)
    password = serializers.CharField(max_length=1000, trim_whitespace=False, style={"input_type": "password"})
    email = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RegisteredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField()
    balance = serializers.DecimalField(max_digits=14, decimal_places=2)


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField(max_length=1000)
    password = serializers.CharField(max_length=1000, trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    balance = serializers.DecimalField(max_digits=14, decimal_places=2, source="coin_account.balance")
    is_staff = serializers.BooleanField()

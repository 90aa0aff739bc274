from rest_framework import serializers

from core.serializers import RejectUnknownFieldsMixin


class RegisterSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    username = serializers.CharField(max_length=1000, trim_whitespace=True)
    password = serializers.CharField(max_length=1000, trim_whitespace=False, style={"input_type": "password"})
    email = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RegisteredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    token = serializers.CharField()
    balance = serializers.DecimalField(max_digits=14, decimal_places=2)


class TokenRequestSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
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

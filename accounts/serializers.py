from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import RejectUnknownFieldsMixin
from webhooks.selectors import webhook_settings_for_user


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
    webhook_url = serializers.SerializerMethodField(
        help_text="The default webhook URL: used by jobs submitted without a webhook of their own."
    )
    webhook_secret = serializers.SerializerMethodField(
        help_text="Always null here: the signing secret is shown once, by POST me/webhook-secret/."
    )
    webhook_secret_created_at = serializers.SerializerMethodField()

    def _webhooks(self, user):
        if "webhooks" not in self.context:
            self.context["webhooks"] = webhook_settings_for_user(user=user)
        return self.context["webhooks"]

    def get_webhook_url(self, user) -> str:
        found = self._webhooks(user)
        return found.default_url if found else ""

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_webhook_secret(self, user) -> None:
        return None

    def get_webhook_secret_created_at(self, user) -> str | None:
        found = self._webhooks(user)
        return found.secret_created_at.isoformat() if found and found.secret_created_at else None


class MeUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    webhook_url = serializers.CharField(
        allow_blank=True, help_text="The default webhook URL (https, a public host); empty to remove it."
    )

from __future__ import annotations

from rest_framework import serializers

from webhooks.models import Event, WebhookAttempt, WebhookDelivery


class WebhookRequestFields(serializers.Serializer):
    """The webhook fields of a paid POST (predictions/, models/, experiments/); the
    service checks the URL (webhooks.services.webhook_target_for_submission)."""

    webhook = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        help_text=(
            "URL to POST the job's events to (https; public hosts only). Default: the webhook URL "
            "of your profile, if any."
        ),
    )
    webhook_events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.values),
        required=False,
        allow_empty=False,
        help_text='Events to send: "completed" (the default; also after failed or canceled) and/or "start".',
    )


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "attempted_at",
            "status_code",
            "duration_ms",
            "succeeded",
            "error",
            "response_body",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message_id", read_only=True)
    url = serializers.CharField(source="subscription.url", read_only=True)
    attempts = WebhookAttemptSerializer(source="attempt_rows", many=True, read_only=True)
    attempt_count = serializers.IntegerField(source="attempts", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "webhook_id",
            "event",
            "url",
            "status",
            "attempt_count",
            "next_attempt_at",
            "created_at",
            "finished_at",
            "attempts",
        ]
        read_only_fields = fields


class WebhookSecretSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField(
        help_text="Shown this once: keep it where your receiver can read it."
    )
    webhook_secret_created_at = serializers.DateTimeField()

"""/api/v1/me/webhook-secret/: make a new signing secret, answered once."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import ERROR_RESPONSES
from webhooks import services
from webhooks.serializers import WebhookDeliverySerializer, WebhookSecretSerializer


class WebhookSecretView(APIView):
    @extend_schema(
        summary="Make a new webhook signing secret (shown this once)",
        request=None,
        responses={201: WebhookSecretSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        secret, found = services.webhook_secret_regenerate(user=request.user)
        body = {"webhook_secret": secret, "webhook_secret_created_at": found.secret_created_at}
        return Response(WebhookSecretSerializer(body).data, status=status.HTTP_201_CREATED)


def deliveries_answer(deliveries) -> Response:
    """The body of a job's ``deliveries/`` endpoint (the job app checked access)."""
    return Response(WebhookDeliverySerializer(deliveries, many=True).data)

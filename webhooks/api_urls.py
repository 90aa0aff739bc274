from django.urls import path

from webhooks import api

app_name = "webhooks-api"
urlpatterns = [
    path("me/webhook-secret/", api.WebhookSecretView.as_view(), name="secret"),
]

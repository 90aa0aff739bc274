"""Operators read deliveries and their attempts in the admin; nobody edits them."""

from __future__ import annotations

from predictions.tasks import run_prediction
from webhooks.models import WebhookDelivery
from webhooks.services import webhooks_deliver_due

LIST = "/admin/webhooks/webhookdelivery/"


def test_staff_read_deliveries_but_cannot_change_them(
    client, staff, alice_api, alice, alice_secret, classifier, row, receiver
):
    response = alice_api.post(
        "/api/v1/predictions/",
        {"model": classifier.pk, "inputs": row, "webhook": receiver.url},
        format="json",
    )
    run_prediction(response.json()["id"])
    webhooks_deliver_due()
    delivery = WebhookDelivery.objects.get()
    client.force_login(staff)

    listing = client.get(LIST)
    assert listing.status_code == 200
    assert delivery.message_id in listing.content.decode()
    page = client.get(f"{LIST}{delivery.pk}/change/").content.decode()
    assert receiver.url in page and "webhook attempts" in page.lower()
    assert alice_secret not in page
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()

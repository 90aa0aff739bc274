from __future__ import annotations

from django.urls import reverse

from predictions import services


def test_predictions_are_read_only_in_the_admin_and_link_their_ledger_entries(
    client, staff, alice, classifier, row
):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    services.prediction_cancel(user=alice, prediction=prediction)
    client.force_login(staff)

    listing = client.get(reverse("admin:predictions_prediction_changelist"), {"status__exact": "canceled"})
    assert listing.status_code == 200
    assert f">{prediction.pk}<" in listing.content.decode()

    page = client.get(reverse("admin:predictions_prediction_change", args=[prediction.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for entry in prediction.ledger_entries.all():
        assert reverse("admin:billing_ledgerentry_change", args=[entry.pk]) in html
    assert "Save" not in html

    assert client.get(reverse("admin:predictions_prediction_add")).status_code == 403
    assert (
        client.post(reverse("admin:predictions_prediction_delete", args=[prediction.pk])).status_code == 403
    )

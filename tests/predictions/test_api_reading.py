"""GET /api/v1/predictions/ and after: the list and its filters, the detail's fields,
access to other users' predictions, cancel (refunded once) and download. Tasks are not
run here, except one run in-process to get a result file; test_worker.py runs them
for real."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from billing.audit import billing_audit
from billing.models import LedgerEntry
from predictions.models import Prediction

URL = "/api/v1/predictions/"


# --- Reading ---------------------------------------------------------------------------------------


def test_the_list_shows_only_my_predictions_newest_first_with_filters(
    alice_api, bob_api, alice, bob, classifier, regressor, make_model, staff, row
):
    first = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").json()["id"]
    second = alice_api.post(URL, {"model": regressor.pk, "inputs": row}, format="json").json()["id"]
    public = make_model(owner=staff, is_public=True)
    bob_api.post(URL, {"model": public.pk, "inputs": row}, format="json")
    Prediction.objects.filter(pk=first).update(status="succeeded")

    body = alice_api.get(URL).json()
    assert body["count"] == 2
    assert [item["id"] for item in body["results"]] == [second, first]
    assert "results" not in body["results"][0]
    assert [item["id"] for item in alice_api.get(URL, {"status": "succeeded"}).json()["results"]] == [first]
    assert [item["id"] for item in alice_api.get(URL, {"model": regressor.pk}).json()["results"]] == [second]
    assert alice_api.get(URL, {"status": "done"}).status_code == 400
    assert alice_api.get(URL, {"model": "x"}).status_code == 400
    assert bob_api.get(URL).json()["count"] == 1


def test_the_detail_has_the_documented_fields(alice_api, classifier, row):
    created = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").json()
    body = alice_api.get(f"{URL}{created['id']}/").json()
    documented = {
        "id",
        "model",
        "status",
        "progress",
        "rows",
        "cost",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "results",
        "download_url",
    }
    assert documented <= set(body)
    assert {"price_per_row", "extra_columns", "input_kind", "scoring_seconds", "model_name"} <= set(body)
    assert body["model"] == classifier.pk and body["model_name"] == str(classifier)


def test_bob_gets_404_for_alices_prediction_download_and_cancel(alice_api, bob_api, classifier, row):
    pk = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").json()["id"]
    assert bob_api.get(f"{URL}{pk}/").status_code == 404
    assert bob_api.get(f"{URL}{pk}/download/").status_code == 404
    assert bob_api.post(f"{URL}{pk}/cancel/").status_code == 404
    assert Prediction.objects.get(pk=pk).status == "queued"


# --- Cancel and download ---------------------------------------------------------------------------


def test_cancel_refunds_a_queued_prediction_once(alice_api, alice, classifier, row, balance):
    pk = alice_api.post(URL, {"model": classifier.pk, "inputs": [row] * 2}, format="json").json()["id"]

    response = alice_api.post(f"{URL}{pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    prediction = Prediction.objects.get(pk=pk)
    assert prediction.status == "canceled" and prediction.finished_at is not None
    charge = LedgerEntry.objects.get(prediction=prediction, kind=LedgerEntry.Kind.PREDICTION_CHARGE)
    refund = LedgerEntry.objects.get(prediction=prediction, kind=LedgerEntry.Kind.REFUND)
    assert refund.refund_of == charge and refund.amount == -charge.amount == Decimal("0.10")
    assert balance(alice) == Decimal("500.00")

    again = alice_api.post(f"{URL}{pk}/cancel/")
    assert again.status_code == 409
    assert "canceled" in again.json()["detail"]
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    assert billing_audit() == []


def test_a_running_prediction_cannot_be_canceled(alice_api, classifier, row):
    pk = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").json()["id"]
    Prediction.objects.filter(pk=pk).update(status="running")
    assert alice_api.post(f"{URL}{pk}/cancel/").status_code == 409
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).exists()


def test_download_before_success_is_409(alice_api, classifier, row):
    pk = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").json()["id"]
    response = alice_api.get(f"{URL}{pk}/download/")
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]


def test_a_result_file_that_is_gone_is_a_clear_410(alice_api, alice, classifier, row, settings):
    from predictions import tasks

    pk = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").json()["id"]
    tasks.run_prediction(pk)
    (Path(settings.MEDIA_ROOT) / Prediction.objects.get(pk=pk).result_file).unlink()
    response = alice_api.get(f"{URL}{pk}/download/")
    assert response.status_code == 410
    assert "no longer available" in response.json()["detail"]

"""POST /api/v1/predictions/ that is accepted: the charge (rows times the price, rounded
up to a cent), JSON and CSV inputs, extra columns, and Idempotency-Key retries that
return the first prediction and charge once. Tasks are not run here (the queue is not
drained inside a test transaction); test_worker.py runs them for real."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from billing.audit import billing_audit
from billing.models import LedgerEntry
from predictions.models import Prediction
from tests.predictions.conftest import stored_files, upload

URL = "/api/v1/predictions/"


# --- Submitting and charging ---------------------------------------------------------------


def test_it_charges_rows_times_price_and_queues_a_json_prediction(alice_api, alice, classifier, row, balance):
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": [row, row, row]}, format="json")

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["rows"] == 3
    assert body["cost"] == "0.15"
    assert body["price_per_row"] == "0.0500"
    assert body["extra_columns"] == []
    assert body["results"] is None and body["download_url"] is None
    assert response["Location"] == f"{URL}{body['id']}/"
    prediction = Prediction.objects.get(pk=body["id"])
    assert (prediction.owner, prediction.model, prediction.status) == (alice, classifier, "queued")
    assert prediction.cost == Decimal("0.15") and prediction.price_per_row == Decimal("0.05")
    assert prediction.input_kind == "json" and prediction.inputs == [row, row, row]
    assert prediction.attempts == 1 and prediction.enqueued_at is not None
    charge = LedgerEntry.objects.get(prediction=prediction)
    assert charge.kind == LedgerEntry.Kind.PREDICTION_CHARGE
    assert charge.amount == Decimal("-0.15")
    assert balance(alice) == Decimal("499.85") == charge.balance_after
    assert billing_audit() == []


def test_one_object_is_one_row(alice_api, classifier, row):
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json")
    assert response.status_code == 202
    assert response.json()["rows"] == 1
    assert response.json()["cost"] == "0.05"


def test_the_cost_is_rounded_up_to_a_cent(alice_api, make_model, alice, row):
    model = make_model(owner=alice, price_per_row=Decimal("0.0033"))
    response = alice_api.post(URL, {"model": model.pk, "inputs": [row] * 4}, format="json")
    assert response.json()["cost"] == "0.02"  # 0.0132 rounds up, never down
    assert LedgerEntry.objects.get(prediction_id=response.json()["id"]).amount == Decimal("-0.02")


def test_a_free_model_charges_nothing(alice_api, make_model, alice, row, balance):
    model = make_model(owner=alice, price_per_row=Decimal("0"))
    response = alice_api.post(URL, {"model": model.pk, "inputs": row}, format="json")
    assert response.status_code == 202
    assert response.json()["cost"] == "0.00"
    assert not LedgerEntry.objects.filter(prediction_id=response.json()["id"]).exists()
    assert balance(alice) == Decimal("500.00")


def test_a_csv_is_streamed_to_storage_and_charged_per_row(alice_api, alice, classifier, make_csv, settings):
    response = alice_api.post(
        URL, {"model": classifier.pk, "file": upload(make_csv(40, extra=True))}, format="multipart"
    )

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["rows"], body["cost"], body["input_kind"]) == (40, "2.00", "csv")
    assert body["extra_columns"] == ["note"]
    assert body["input_filename"] == "rows.csv"
    prediction = Prediction.objects.get(pk=body["id"])
    stored = Path(settings.MEDIA_ROOT) / prediction.input_file.name
    assert prediction.input_file.name == f"predictions/{alice.pk}/{prediction.token}-input.csv"
    assert stored.read_text() == make_csv(40, extra=True)
    assert stored_files(settings) == [stored]
    assert LedgerEntry.objects.get(prediction=prediction).amount == Decimal("-2.00")


def test_extra_columns_are_ignored_and_reported(alice_api, classifier, row):
    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": [{**row, "id": 7, "note": "x"}]}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["extra_columns"] == ["id", "note"]


def test_unseen_categories_are_accepted(alice_api, classifier, row):
    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": {**row, "color": "ultraviolet"}}, format="json"
    )
    assert response.status_code == 202


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_an_idempotent_retry_returns_the_first_prediction_and_charges_once(
    alice_api, alice, classifier, row, balance
):
    first = alice_api.post(
        URL, {"model": classifier.pk, "inputs": [row]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = alice_api.post(
        URL, {"model": classifier.pk, "inputs": [row]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Prediction.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).count() == 1
    assert balance(alice) == Decimal("499.95")


def test_the_same_key_with_another_body_is_409(alice_api, alice, classifier, row, balance):
    alice_api.post(URL, {"model": classifier.pk, "inputs": [row]}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": [row, row]}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert response.status_code == 409
    assert "Idempotency-Key" in response.json()["errors"]
    assert Prediction.objects.count() == 1
    assert balance(alice) == Decimal("499.95")


def test_a_csv_retry_is_recognised_by_the_files_content(
    alice_api, alice, classifier, make_csv, settings, balance
):
    def send(text):
        return alice_api.post(
            URL,
            {"model": classifier.pk, "file": upload(text)},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="csv-1",
        )

    first = send(make_csv(4))
    again = send(make_csv(4))
    other = send(make_csv(5))

    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 409)
    assert again.json()["id"] == first.json()["id"]
    assert len(stored_files(settings)) == 1  # the retries' copies were removed
    assert balance(alice) == Decimal("499.80")


def test_a_retry_after_402_may_use_the_same_key(alice_api, alice, make_model, row):
    model = make_model(owner=alice, price_per_row=Decimal("600"))
    response = alice_api.post(
        URL, {"model": model.pk, "inputs": row}, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert response.status_code == 402
    model.price_per_row = Decimal("1")
    model.save(update_fields=["price_per_row"])
    response = alice_api.post(
        URL, {"model": model.pk, "inputs": row}, format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )
    assert response.status_code == 202


def test_a_retry_gets_the_first_answer_even_after_the_model_was_deactivated(alice_api, classifier, row):
    first = alice_api.post(
        URL, {"model": classifier.pk, "inputs": row}, format="json", HTTP_IDEMPOTENCY_KEY="k-4"
    )
    classifier.is_active = False
    classifier.save(update_fields=["is_active"])
    again = alice_api.post(
        URL, {"model": classifier.pk, "inputs": row}, format="json", HTTP_IDEMPOTENCY_KEY="k-4"
    )
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert Prediction.objects.count() == 1

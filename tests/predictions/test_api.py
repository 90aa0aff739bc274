"""POST/GET /api/v1/predictions/: validation before any charge, the charge itself,
idempotent retries, access, cancel and download. Tasks are not run here (the queue
is not drained inside a test transaction); test_worker.py runs them for real."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import IdempotencyKey, LedgerEntry
from billing.services import billing_audit
from predictions.models import Prediction

URL = "/api/v1/predictions/"


def stored_files(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "predictions"
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def upload(text: str, name: str = "rows.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


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


# --- Refusals: nothing written, nothing charged ----------------------------------------------


def assert_nothing_written(alice, balance, settings):
    assert Prediction.objects.count() == 0
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).exists()
    assert balance(alice) == Decimal("500.00")
    assert stored_files(settings) == []


def test_missing_columns_are_listed_by_name(alice_api, alice, classifier, balance, settings):
    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": [{"age": 30, "color": "red"}]}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["errors"]["inputs"][0]
    assert "'income'" in message and "'member'" in message
    assert_nothing_written(alice, balance, settings)


def test_non_numeric_values_are_reported_with_row_and_column(
    alice_api, alice, classifier, row, balance, settings
):
    rows = [dict(row) for _ in range(30)]
    for number in range(2, 27):
        rows[number]["age"] = "old"
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": rows}, format="json")
    assert response.status_code == 400
    messages = response.json()["errors"]["inputs"]
    assert messages[0] == "row 3, column 'age': 'old' is not a number"
    assert len(messages) == 21 and messages[-1] == "... and 5 more"
    assert "25" in response.json()["detail"]
    assert_nothing_written(alice, balance, settings)


def test_non_numeric_csv_values_are_reported_with_row_and_column(
    alice_api, alice, classifier, balance, settings
):
    text = "age,income,color,member\n30,1.5,red,true\n31,lots,blue,false\n"
    response = alice_api.post(URL, {"model": classifier.pk, "file": upload(text)}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == ["row 2, column 'income': 'lots' is not a number"]
    assert_nothing_written(alice, balance, settings)


@pytest.mark.parametrize("inputs", [[], "age=3", 5])
def test_empty_or_malformed_inputs_are_refused(alice_api, alice, classifier, inputs, balance, settings):
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": inputs}, format="json")
    assert response.status_code == 400
    assert "inputs" in response.json()["errors"]
    assert_nothing_written(alice, balance, settings)


def test_an_empty_csv_is_refused(alice_api, alice, classifier, balance, settings):
    for text in ("", "age,income,color,member\n"):
        response = alice_api.post(URL, {"model": classifier.pk, "file": upload(text)}, format="multipart")
        assert response.status_code == 400, text
        assert "file" in response.json()["errors"]
    assert_nothing_written(alice, balance, settings)


def test_too_many_json_rows_is_413(alice_api, alice, classifier, row, balance, settings):
    settings.PREDICTION_MAX_JSON_ROWS = 3
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": [row] * 4}, format="json")
    assert response.status_code == 413
    assert "limit" in response.json()["errors"]["inputs"][0]
    assert_nothing_written(alice, balance, settings)


def test_too_many_csv_rows_is_413_and_the_file_is_removed(
    alice_api, alice, classifier, make_csv, balance, settings
):
    settings.PREDICTION_MAX_ROWS = 10
    response = alice_api.post(URL, {"model": classifier.pk, "file": upload(make_csv(11))}, format="multipart")
    assert response.status_code == 413
    assert "limit" in response.json()["errors"]["file"][0]
    assert_nothing_written(alice, balance, settings)


def test_a_file_above_the_size_limit_is_413_and_not_kept(
    alice_api, alice, classifier, make_csv, balance, settings
):
    settings.PREDICTION_MAX_BYTES = 100
    response = alice_api.post(URL, {"model": classifier.pk, "file": upload(make_csv(20))}, format="multipart")
    assert response.status_code == 413
    assert "file" in response.json()["errors"]
    assert_nothing_written(alice, balance, settings)


def test_unknown_body_fields_are_refused(alice_api, alice, classifier, row, balance, settings):
    response = alice_api.post(URL, {"model": classifier.pk, "input": [row]}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"input"}
    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": [row], "priority": "high"}, format="json"
    )
    assert set(response.json()["errors"]) == {"priority"}
    assert_nothing_written(alice, balance, settings)


def test_inputs_and_file_together_or_neither_are_refused(
    alice_api, alice, classifier, make_csv, balance, settings
):
    assert alice_api.post(URL, {"model": classifier.pk}, format="json").status_code == 400
    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": "[]", "file": upload(make_csv(2))}, format="multipart"
    )
    assert response.status_code == 400
    assert_nothing_written(alice, balance, settings)


def test_a_wrong_content_type_is_a_clear_400(alice_api, alice, classifier, balance, settings):
    response = alice_api.generic("POST", URL, "age,income\n1,2\n", content_type="text/csv")
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["detail"]
    response = alice_api.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert_nothing_written(alice, balance, settings)


def test_json_sent_where_a_csv_is_expected_is_a_clear_400(
    alice_api, alice, classifier, row, balance, settings
):
    response = alice_api.post(
        URL, {"model": classifier.pk, "file": upload('[{"age": 3}]', "rows.json")}, format="multipart"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["errors"]["file"][0]
    assert_nothing_written(alice, balance, settings)


@pytest.mark.parametrize(
    ("fields", "phrase"),
    [
        ({"status": "running"}, "running"),
        ({"status": "failed"}, "failed"),
        ({"is_active": False}, "not the active version"),
    ],
)
def test_a_model_that_cannot_predict_is_refused(
    alice_api, alice, make_model, row, fields, phrase, balance, settings
):
    model = make_model(owner=alice, **fields)
    response = alice_api.post(URL, {"model": model.pk, "inputs": row}, format="json")
    assert response.status_code == 409
    assert phrase in response.json()["detail"]
    assert "model" in response.json()["errors"]
    assert_nothing_written(alice, balance, settings)


def test_a_deleted_model_is_refused(alice_api, alice, classifier, row, balance, settings):
    from django.utils import timezone

    classifier.deleted_at = timezone.now()
    classifier.save(update_fields=["deleted_at"])
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json")
    assert response.status_code == 409
    assert "deleted" in response.json()["detail"]
    assert_nothing_written(alice, balance, settings)


def test_another_users_private_model_is_404(bob_api, bob, classifier, row, balance):
    response = bob_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json")
    assert response.status_code == 404
    assert Prediction.objects.count() == 0
    assert balance(bob) == Decimal("500.00")


def test_a_public_model_of_another_user_can_be_used(bob_api, bob, make_model, staff, row):
    model = make_model(owner=staff, is_public=True)
    response = bob_api.post(URL, {"model": model.pk, "inputs": row}, format="json")
    assert response.status_code == 202
    assert Prediction.objects.get().owner == bob


def test_not_enough_coins_is_402_and_writes_nothing(
    alice_api, alice, make_model, row, balance, settings, make_csv
):
    model = make_model(owner=alice, price_per_row=Decimal("300"))
    response = alice_api.post(URL, {"model": model.pk, "inputs": [row, row]}, format="json")
    assert response.status_code == 402
    assert response.json()["balance"] == "500.00" and response.json()["cost"] == "600.00"
    response = alice_api.post(URL, {"model": model.pk, "file": upload(make_csv(2))}, format="multipart")
    assert response.status_code == 402
    assert_nothing_written(alice, balance, settings)
    assert not IdempotencyKey.objects.exists()


def test_authentication_is_required(api, classifier, row):
    assert api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").status_code == 401
    assert api.get(URL).status_code == 401


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


def test_an_unexpected_file_field_is_refused_and_not_kept(
    alice_api, alice, classifier, make_csv, balance, settings
):
    response = alice_api.post(
        URL,
        {"model": classifier.pk, "file": upload(make_csv(2)), "attachment": upload("x", "other.csv")},
        format="multipart",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"attachment"}
    assert_nothing_written(alice, balance, settings)


def test_a_malformed_prefer_header_is_400(alice_api, alice, classifier, row, balance, settings):
    response = alice_api.post(
        URL, {"model": classifier.pk, "inputs": row}, format="json", HTTP_PREFER="wait=soon"
    )
    assert response.status_code == 400
    assert_nothing_written(alice, balance, settings)


def test_a_result_file_that_is_gone_is_a_clear_404(alice_api, alice, classifier, row, settings):
    from predictions import tasks

    pk = alice_api.post(URL, {"model": classifier.pk, "inputs": row}, format="json").json()["id"]
    tasks.run_prediction(pk)
    (Path(settings.MEDIA_ROOT) / Prediction.objects.get(pk=pk).result_file).unlink()
    response = alice_api.get(f"{URL}{pk}/download/")
    assert response.status_code == 404
    assert "no longer available" in response.json()["detail"]


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

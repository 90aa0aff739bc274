"""POST /api/v1/predictions/ that is refused before any charge: bad or missing
inputs, files and limits, unusable models, other users' models, too few coins and no
authentication. Each leaves nothing behind: no prediction, no charge, no stored file."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.models import IdempotencyKey
from predictions.models import Prediction
from tests.predictions.conftest import assert_nothing_written, upload

URL = "/api/v1/predictions/"


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


def test_a_version_that_is_not_active_is_refused_to_anyone_but_its_owner(
    staff_api, staff, alice, make_model, row, balance
):
    # Staff may see every model, but predict only with the active version of someone
    # else's (its owner may use any ready version: tests/predictions/test_owner_versions.py).
    model = make_model(owner=alice, is_active=False)
    response = staff_api.post(URL, {"model": model.pk, "inputs": row}, format="json")
    assert response.status_code == 409
    assert "not the active version" in response.json()["detail"]
    assert Prediction.objects.count() == 0
    assert balance(staff) == Decimal("500.00")


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

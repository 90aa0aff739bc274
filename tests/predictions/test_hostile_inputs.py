"""Issue 13's hostile inputs to predictions, each refused before any charge or, for
results already stored, shown without harm: too many columns, a cell over Python's
csv field limit, finite numbers too large for a model, a cost no ledger entry can hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mlmodels.models import TrainedModel
from predictions.models import Prediction
from predictions.tasks import run_prediction
from tests.predictions.conftest import assert_nothing_written, upload

URL = "/api/v1/predictions/"
HEADER = "age,income,color,member"
BIG_CELL = "x" * (200 * 1024)  # over csv.field_size_limit() (128 KiB)


def _scored(api, model, text: str) -> Prediction:
    response = api.post(URL, {"model": model.pk, "file": upload(text)}, format="multipart")
    assert response.status_code == 202, response.json()
    run_prediction(response.json()["id"])
    prediction = Prediction.objects.get(pk=response.json()["id"])
    assert prediction.status == Prediction.Status.SUCCEEDED
    return prediction


# --- Item 6: the column limit, and a preview of the model's columns only ------------------


def test_a_csv_with_more_columns_than_the_limit_is_refused_naming_the_limit(
    alice_api, alice, classifier, balance, settings
):
    settings.PREDICTION_MAX_COLUMNS = 10
    extra = ",".join(f"c{number}" for number in range(7))
    text = f"{HEADER},{extra}\n61,72.5,red,true,{','.join('1' * 7)}\n"
    response = alice_api.post(URL, {"model": classifier.pk, "file": upload(text)}, format="multipart")
    assert response.status_code == 400
    assert response.json()["detail"] == "the file has 11 columns; the limit is 10"
    assert_nothing_written(alice, balance, settings)


def test_json_rows_with_more_keys_than_the_column_limit_are_refused(
    alice_api, alice, classifier, row, balance, settings
):
    settings.PREDICTION_MAX_COLUMNS = 5
    rows = [{**row, "note": "a"}, {**row, "id": 2}]
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": rows}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["inputs"] == ["the input has 6 columns; the limit is 5"]
    assert_nothing_written(alice, balance, settings)


def test_the_results_preview_shows_the_model_columns_and_the_outputs_only(alice_api, alice_web, classifier):
    extra = [f"unused_{number}" for number in range(300)]
    text = f"{','.join(extra[:150])},{HEADER},{','.join(extra[150:])}\n"
    text += f"{','.join('7' * 150)},61,72.5,red,true,{','.join('8' * 150)}\n"
    prediction = _scored(alice_api, classifier, text)

    page = alice_web.get(f"/predictions/{prediction.pk}/").content.decode()
    table = page[page.index('id="results"') :]
    for name in ["age", "income", "color", "member", "prediction", "probability_no", "probability_yes"]:
        assert f">{name}</th>" in table
    assert "unused_" not in table
    # The download keeps every column.
    download = b"".join(alice_web.get(f"/predictions/{prediction.pk}/download/").streaming_content)
    assert download.decode().splitlines()[0].startswith("unused_0,")


# --- Item 8: cells over Python's csv field limit -----------------------------------------------


def test_a_header_cell_over_the_csv_field_limit_is_a_400_not_a_500(
    alice_api, alice, classifier, balance, settings
):
    text = f"{HEADER},{BIG_CELL}\n61,72.5,red,true,1\n"
    response = alice_api.post(URL, {"model": classifier.pk, "file": upload(text)}, format="multipart")
    assert response.status_code == 400
    assert "longer than 128 KB" in response.json()["detail"]
    assert_nothing_written(alice, balance, settings)


def test_an_unclosed_quote_in_the_header_is_a_400_on_the_page_too(
    alice_web, alice, classifier, balance, settings
):
    text = f'{HEADER},"note\n' + "61,72.5,red,true,1\n" * 10_000
    response = alice_web.post(
        f"/predictions/predict/{classifier.pk}/", {"mode": "csv", "csv-file": upload(text)}
    )
    assert response.status_code == 400
    assert "longer than 128 KB" in response.content.decode()
    assert_nothing_written(alice, balance, settings)


def test_a_result_with_cells_over_the_csv_field_limit_renders_with_the_cells_cut(
    alice_api, alice_web, classifier
):
    text = f"{HEADER},note\n61,72.5,{BIG_CELL},true,{BIG_CELL}\n30,40.5,red,false,short\n"
    prediction = _scored(alice_api, classifier, text)

    for url in (f"/predictions/{prediction.pk}/", f"/predictions/{prediction.pk}/status/"):
        response = alice_web.get(url)
        assert response.status_code == 200
        page = response.content.decode()
        assert "x" * 200 + "…" in page
        assert "x" * 201 not in page
        assert len(page) < 50_000


# --- Item 10: finite numbers too large for a model -------------------------------------------


@pytest.mark.parametrize("value", [1.7e308, "-1e300", 1e31])
def test_a_number_too_large_for_a_model_is_refused_naming_its_column(
    alice_api, alice, make_model, row, value, balance, settings
):
    model = make_model(owner=alice, task="regression")
    response = alice_api.post(URL, {"model": model.pk, "inputs": {**row, "income": value}}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "1 number is too large for a model"
    [message] = response.json()["errors"]["inputs"]
    assert message.startswith("row 1, column 'income': ") and "between -1e+30 and 1e+30" in message
    assert_nothing_written(alice, balance, settings)


def test_large_numbers_are_refused_in_a_batch_past_the_scalar_path(
    alice_api, alice, classifier, row, balance, settings
):
    rows = [dict(row) for _ in range(1_001)]
    rows[700]["age"] = 1.7e308
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": rows}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["inputs"] == [
        "row 701, column 'age': 1.7e+308 is too large: numbers must be between -1e+30 and 1e+30"
    ]
    assert_nothing_written(alice, balance, settings)


def test_large_numbers_are_refused_in_a_csv(alice_api, alice, classifier, balance, settings):
    text = f"{HEADER}\n61,72.5,red,true\n1.7e308,72.5,red,true\n"
    response = alice_api.post(URL, {"model": classifier.pk, "file": upload(text)}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == [
        "row 2, column 'age': 1.7e+308 is too large: numbers must be between -1e+30 and 1e+30"
    ]
    assert_nothing_written(alice, balance, settings)


def test_a_number_just_inside_the_bound_is_scored(alice_api, classifier, row):
    response = alice_api.post(URL, {"model": classifier.pk, "inputs": {**row, "income": 1e29}}, format="json")
    assert response.status_code == 202
    run_prediction(response.json()["id"])
    assert Prediction.objects.get(pk=response.json()["id"]).status == Prediction.Status.SUCCEEDED


# --- Item 11: a cost beyond what the ledger can hold -----------------------------------------


def test_a_cost_beyond_the_ledger_column_is_refused_with_the_numbers(
    alice_api, alice, classifier, make_csv, balance, settings
):
    # A price set before prices were bounded: 20,000 rows of it overflow 14 digits.
    TrainedModel.objects.filter(pk=classifier.pk).update(price_per_row=Decimal("99999999.9999"))
    response = alice_api.post(
        URL, {"model": classifier.pk, "file": upload(make_csv(20_000))}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["cost"] == "1999999999998.00" and body["limit"] == "999999999999.99"
    assert "20,000 rows × 99999999.9999" in body["detail"]
    assert_nothing_written(alice, balance, settings)

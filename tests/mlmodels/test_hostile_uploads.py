"""Issue 13's hostile dataset uploads and prices: a header cell over Python's csv field
limit, numbers too large to train on, and prices beyond MAX_PRICE, refused with a
message on the page and in the API, storing nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import MAX_PRICE
from mlmodels.models import Algorithm, Dataset, ExperimentSettings, TrainedModel
from tests.mlmodels.conftest import media_files, upload_file

URL = "/api/v1/datasets/"
BIG_CELL = "x" * (200 * 1024)  # over csv.field_size_limit() (128 KiB)


@pytest.fixture
def staff_web(client, staff):
    client.force_login(staff)
    return client


# --- Item 8: a cell over Python's csv field limit ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [f"a,b,{BIG_CELL}\n1,2,3\n", 'a,b,"c\n' + "1,2,3\n" * 30_000],
    ids=["a long column name", "an unclosed quote"],
)
def test_a_header_cell_over_the_csv_field_limit_is_a_400_in_the_api(alice_api, text, settings):
    response = alice_api.post(URL, {"file": upload_file(text)}, format="multipart")
    assert response.status_code == 400
    assert "longer than 128 KB" in response.json()["detail"]
    assert Dataset.objects.count() == 0 and media_files(settings) == []


def test_a_header_cell_over_the_csv_field_limit_is_a_400_on_the_page(alice_web, settings):
    response = alice_web.post(
        reverse("mlmodels:dataset-upload"), {"file": upload_file(f"a,{BIG_CELL}\n1,2\n")}
    )
    assert response.status_code == 200  # the form again, with the error
    assert "longer than 128 KB" in response.content.decode()
    assert Dataset.objects.count() == 0 and media_files(settings) == []


def test_long_cells_below_the_header_are_still_accepted(alice_api):
    response = alice_api.post(
        URL, {"file": upload_file(f"a,b,c\n1,2,x\n3,4,{BIG_CELL}\n")}, format="multipart"
    )
    assert response.status_code == 201


# --- Item 10: numbers too large to train on ---------------------------------------------------


def test_a_dataset_with_a_number_too_large_for_a_model_is_refused_naming_it(alice_api, settings):
    text = "a,b,label\n1,2,yes\n1.7e308,3,no\n4,5,yes\n"
    response = alice_api.post(URL, {"file": upload_file(text)}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"]["file"] == [
        "row 2, column 'a': 1.7e+308 is too large: numbers must be between -1e+30 and 1e+30"
    ]
    assert Dataset.objects.count() == 0 and media_files(settings) == []


# --- Item 11: prices bounded in the admin and the API -----------------------------------------


def test_staff_cannot_set_a_price_per_row_above_the_maximum_in_the_api(staff_api, trained_model):
    response = staff_api.patch(
        f"/api/v1/models/{trained_model.pk}/", {"price_per_row": "99999999.9999"}, format="json"
    )
    assert response.status_code == 400
    assert "price_per_row" in response.json()["errors"]
    trained_model.refresh_from_db()
    assert trained_model.price_per_row == Decimal("0.0100")


def test_staff_cannot_set_prices_above_the_maximum_in_the_admin(staff_web, trained_model):
    too_much = str(MAX_PRICE + Decimal("0.01"))
    response = staff_web.post(
        reverse("admin:mlmodels_trainedmodel_change", args=[trained_model.pk]), {"price_per_row": too_much}
    )
    assert response.status_code == 200
    assert f"less than or equal to {MAX_PRICE}" in response.content.decode()
    assert TrainedModel.objects.get(pk=trained_model.pk).price_per_row == Decimal("0.0100")

    algorithm = Algorithm.objects.get(key="svc")
    response = staff_web.post(
        reverse("admin:mlmodels_algorithm_change", args=[algorithm.pk]),
        {"enabled": "on", "training_price": too_much},
    )
    assert response.status_code == 200
    assert Algorithm.objects.get(pk=algorithm.pk).training_price == algorithm.training_price

    response = staff_web.post(reverse("admin:mlmodels_experimentsettings_add"), {"price_per_trial": too_much})
    assert response.status_code == 200
    assert not ExperimentSettings.objects.exists()

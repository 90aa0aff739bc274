"""Flat prices (issue 14, item 6): cost = price per request + rows × price per row,
rounded up to 0.01 — one rule (billing.services.cost_quote), quoted on the predict
page, in the API's 402 body, on the prediction and in the ledger memo; staff edit both
prices in the admin's list. Every money test ends with the books balanced."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.audit import billing_audit
from billing.models import LedgerEntry
from billing.services import CostTooLarge, cost_quote
from predictions.models import Prediction
from tests.predictions.test_views import row_post

URL = "/api/v1/predictions/"


@pytest.mark.parametrize(
    ("rows", "per_row", "per_request", "cost", "formula"),
    [
        (3, "0.01", "5", "5.03", "5 per request + 3 rows × 0.01"),
        (1, "0.0001", "0.50", "0.51", "0.5 per request + 1 row × 0.0001"),  # rounded up, never down
        (7, "0.0013", "0", "0.01", "7 rows × 0.0013"),  # no flat part: as before
        (2, "0", "2.50", "2.50", "2.5 per request + 2 rows × 0"),
        (1000, "0.0125", "1.25", "13.75", "1.25 per request + 1,000 rows × 0.0125"),
    ],
)
def test_the_cost_is_the_flat_part_plus_rows_times_the_price_rounded_up(
    rows, per_row, per_request, cost, formula
):
    quote = cost_quote(rows=rows, price_per_row=Decimal(per_row), price_per_request=Decimal(per_request))
    assert quote.cost == Decimal(cost)
    assert quote.formula == formula


def test_a_cost_no_ledger_entry_could_hold_names_the_flat_part():
    with pytest.raises(CostTooLarge) as refused:
        cost_quote(rows=10**12, price_per_row=Decimal("10000"), price_per_request=Decimal("7"))
    assert "7 per request + " in refused.value.detail


def test_the_api_charges_the_flat_part_once_and_says_how(alice_api, alice, make_model, row, balance):
    model = make_model(owner=alice, price_per_row=Decimal("0.05"), price_per_request=Decimal("2.00"))
    response = alice_api.post(URL, {"model": model.pk, "inputs": [row, row, row]}, format="json")
    assert response.status_code == 202, response.json()
    prediction = Prediction.objects.get(pk=response.json()["id"])
    assert prediction.cost == Decimal("2.15")
    assert (prediction.price_per_request, prediction.price_per_row) == (Decimal("2.00"), Decimal("0.0500"))
    assert balance(alice) == Decimal("497.85")

    charge = LedgerEntry.objects.get(kind=LedgerEntry.Kind.PREDICTION_CHARGE)
    assert charge.amount == Decimal("-2.15")
    assert charge.memo == f"Prediction #{prediction.pk}: 2 per request + 3 rows × 0.05 on {model}"

    detail = alice_api.get(f"{URL}{prediction.pk}/").json()
    assert (detail["cost"], detail["price_per_request"], detail["price_per_row"]) == (
        "2.15",
        "2.00",
        "0.0500",
    )
    assert detail["cost_formula"] == "2 per request + 3 rows × 0.05"
    ledger = alice_api.get("/api/v1/billing/ledger/").json()["results"]
    assert ledger[0]["memo"] == charge.memo
    assert billing_audit() == []


def test_a_short_balance_is_a_402_that_shows_the_flat_part(alice_api, alice, make_model, row, balance):
    model = make_model(owner=alice, price_per_row=Decimal("0.01"), price_per_request=Decimal("600.00"))
    response = alice_api.post(URL, {"model": model.pk, "inputs": [row, row]}, format="json")
    assert response.status_code == 402
    body = response.json()
    assert body["cost"] == "600.02" and body["balance"] == "500.00"
    assert (body["price_per_request"], body["price_per_row"], body["rows"]) == ("600.00", "0.0100", 2)
    assert body["cost_formula"] == "600 per request + 2 rows × 0.01"
    assert "600 per request + 2 rows × 0.01" in body["detail"]
    assert Prediction.objects.count() == 0
    assert balance(alice) == Decimal("500.00")
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).exists()
    assert billing_audit() == []


def test_a_free_model_with_no_flat_part_still_charges_nothing(alice_api, alice, make_model, row, balance):
    model = make_model(owner=alice, price_per_row=Decimal("0"), price_per_request=Decimal("0"))
    response = alice_api.post(URL, {"model": model.pk, "inputs": row}, format="json")
    assert response.status_code == 202
    assert response.json()["cost"] == "0.00"
    assert balance(alice) == Decimal("500.00")
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PREDICTION_CHARGE).exists()
    assert billing_audit() == []


def test_the_predict_page_quotes_the_flat_part_and_the_prediction_page_shows_it(
    alice_web, alice, make_model, balance
):
    model = make_model(owner=alice, price_per_row=Decimal("0.0125"), price_per_request=Decimal("1.50"))
    page = alice_web.get(reverse("predictions:predict", args=[model.pk])).content.decode()
    assert "1.50 per request" in page
    assert "Cost: <strong>1.52</strong> coins (1.5 per request + 1 row × 0.0125)" in page
    assert 'data-price-per-request="1.50"' in page

    response = alice_web.post(reverse("predictions:predict", args=[model.pk]), row_post(model))
    assert response.status_code == 302
    prediction = Prediction.objects.get()
    assert prediction.cost == Decimal("1.52")
    assert balance(alice) == Decimal("498.48")
    detail = alice_web.get(reverse("predictions:detail", args=[prediction.pk])).content.decode()
    assert "1.52 coins (1.5 per request + 1 row × 0.0125, rounded up to 0.01)" in detail
    assert billing_audit() == []


def test_an_exact_cost_is_not_said_to_be_rounded(alice_web, alice, make_model):
    model = make_model(owner=alice, price_per_row=Decimal("0.05"), price_per_request=Decimal("1.00"))
    alice_web.post(reverse("predictions:predict", args=[model.pk]), row_post(model))
    prediction = Prediction.objects.get()
    detail = alice_web.get(reverse("predictions:detail", args=[prediction.pk])).content.decode()
    assert "1.05 coins (1 per request + 1 row × 0.05)" in detail
    assert "rounded up" not in detail


def test_staff_edit_both_prices_in_the_admin_list(staff, client, alice, make_model):
    model = make_model(owner=alice, price_per_row=Decimal("0.01"))
    client.force_login(staff)
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(model.pk),
        "form-0-price_per_row": "0.02",
        "form-0-price_per_request": "3.00",
        "_save": "Save",
    }
    response = client.post(reverse("admin:mlmodels_trainedmodel_changelist"), data)
    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.price_per_row, model.price_per_request) == (Decimal("0.0200"), Decimal("3.00"))

    data["form-0-price_per_request"] = "10000.01"  # above MAX_PRICE
    response = client.post(reverse("admin:mlmodels_trainedmodel_changelist"), data)
    assert response.status_code == 200
    assert "less than or equal to 10000" in response.content.decode()
    model.refresh_from_db()
    assert model.price_per_request == Decimal("3.00")
    assert billing_audit() == []


@pytest.mark.parametrize("price", ["-1", "10000.01", "0.001", "lots"])
def test_the_api_bounds_the_price_per_request(staff_api, alice, make_model, price):
    model = make_model(owner=alice)
    response = staff_api.patch(f"/api/v1/models/{model.pk}/", {"price_per_request": price}, format="json")
    assert response.status_code == 400
    assert "price_per_request" in response.json()["errors"]
    model.refresh_from_db()
    assert model.price_per_request == Decimal("0.00")

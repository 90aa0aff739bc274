"""Owners run their models (issue 14, item 5): the owner chooses the active version
(and the choice sticks when newer versions are trained), predicts with any ready
version, writes a description and a Markdown card (sanitised), prices a private model
and deletes versions; staff still decide what is public and its price. API, web and
admin."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.audit import billing_audit
from billing.models import LedgerEntry
from mlmodels.models import TrainedModel
from mlmodels.tasks import train_model_task
from predictions.models import Prediction
from tests.mlmodels.conftest import balance_of

URL = "/api/v1/models/"
ROW = {"x": 0.5, "noise": 0.1, "color": "red"}
HOSTILE_CARD = (
    "# Churn\n\nUse it **carefully**.\n\n<script>alert('card')</script>\n\n"
    "[click](javascript:alert(1)) [docs](https://example.com/docs) "
    '<a href="JaVaScRiPt:alert(2)" onclick="steal()">more</a> <img src=x onerror="alert(3)">'
)


@pytest.fixture
def staff_web(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def versions(submit, alice, dataset):
    """Two ready versions of alice's "churn"; v2, the newest, is active."""
    made = []
    for _ in range(2):
        model = submit(
            alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression"
        )
        train_model_task(model.pk)
        model.refresh_from_db()
        assert model.status == "ready", model.error
        made.append(model)
    assert [TrainedModel.objects.get(pk=model.pk).is_active for model in made] == [False, True]
    return made


def active_versions(name: str = "churn") -> list[int]:
    return list(TrainedModel.objects.filter(name=name, is_active=True).values_list("version", flat=True))


def train_another(submit, alice, dataset) -> TrainedModel:
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    train_model_task(model.pk)
    return TrainedModel.objects.get(pk=model.pk)


# --- API ---------------------------------------------------------------------------------


def test_the_owner_makes_an_older_version_active_and_it_stays_active(
    alice_api, versions, submit, alice, dataset
):
    first, _ = versions
    response = alice_api.patch(f"{URL}{first.pk}/", {"is_active": True}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["is_active"] is True and response.json()["active_pinned"] is True
    assert active_versions() == [1]

    third = train_another(submit, alice, dataset)
    assert third.status == "ready" and third.is_active is False
    assert active_versions() == [1]  # the owner's choice sticks

    # Deactivated, nothing is pinned: the next version that becomes ready takes over.
    assert alice_api.patch(f"{URL}{first.pk}/", {"is_active": False}, format="json").status_code == 200
    assert active_versions() == []
    train_another(submit, alice, dataset)
    assert active_versions() == [4]


def test_the_owner_predicts_with_a_version_that_is_not_active(alice_api, alice, versions):
    first, second = versions
    balance = balance_of(alice)
    response = alice_api.post("/api/v1/predictions/", {"model": first.pk, "inputs": ROW}, format="json")
    assert response.status_code == 202, response.json()
    prediction = Prediction.objects.get(pk=response.json()["id"])
    assert prediction.model_id == first.pk and prediction.cost == Decimal("0.01")
    charge = LedgerEntry.objects.get(kind=LedgerEntry.Kind.PREDICTION_CHARGE)
    assert charge.amount == Decimal("-0.01") and "churn v1" in charge.memo
    assert balance_of(alice) == balance - Decimal("0.01")
    assert active_versions() == [2]  # predicting changes nothing about which is active
    assert billing_audit() == []


def test_another_user_gets_404_for_a_private_models_versions(bob_api, bob, versions):
    first, second = versions
    for version in (first, second):
        assert bob_api.get(f"{URL}{version.pk}/").status_code == 404
        assert bob_api.patch(f"{URL}{version.pk}/", {"is_active": True}, format="json").status_code == 404
        assert bob_api.delete(f"{URL}{version.pk}/").status_code == 404
        response = bob_api.post("/api/v1/predictions/", {"model": version.pk, "inputs": ROW}, format="json")
        assert response.status_code == 404
    assert Prediction.objects.count() == 0
    assert active_versions() == [2]
    assert TrainedModel.objects.filter(deleted_at__isnull=False).count() == 0
    assert billing_audit() == []


def test_publishing_stays_staff_only(alice_api, staff_api, versions):
    first, second = versions
    response = alice_api.patch(f"{URL}{second.pk}/", {"is_public": True}, format="json")
    assert response.status_code == 403
    assert "Only staff" in response.json()["detail"]
    assert TrainedModel.objects.filter(is_public=True).count() == 0

    assert staff_api.patch(f"{URL}{second.pk}/", {"is_public": True}, format="json").status_code == 200
    # The owner may not retire the public version, nor put another in its place,
    # nor price it; staff may.
    for body in ({"is_active": False},):
        response = alice_api.patch(f"{URL}{second.pk}/", body, format="json")
        assert response.status_code == 403 and "public catalog" in response.json()["detail"]
    response = alice_api.patch(f"{URL}{first.pk}/", {"is_active": True}, format="json")
    assert response.status_code == 403 and "staff choose" in response.json()["detail"]
    response = alice_api.patch(f"{URL}{second.pk}/", {"price_per_row": "0"}, format="json")
    assert response.status_code == 403 and "staff set its price" in response.json()["detail"]
    assert active_versions() == [2]
    second.refresh_from_db()
    assert second.price_per_row == Decimal("0.0100")
    # What stays the owner's on a public model: its words.
    response = alice_api.patch(f"{URL}{second.pk}/", {"description": "Who will leave."}, format="json")
    assert response.status_code == 200 and response.json()["description"] == "Who will leave."
    assert staff_api.patch(f"{URL}{first.pk}/", {"is_active": True}, format="json").status_code == 200
    assert active_versions() == [1]


def test_the_owner_prices_a_private_model_and_pays_that_price(alice_api, alice, versions):
    _, second = versions
    response = alice_api.patch(
        f"{URL}{second.pk}/", {"price_per_row": "0.02", "price_per_request": "1.00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["price_per_row"], response.json()["price_per_request"]) == ("0.0200", "1.00")
    response = alice_api.post(
        "/api/v1/predictions/", {"model": second.pk, "inputs": [ROW, ROW]}, format="json"
    )
    assert response.status_code == 202
    assert response.json()["cost"] == "1.04"
    assert LedgerEntry.objects.get(kind="prediction_charge").memo.endswith(
        "1 per request + 2 rows × 0.02 on churn v2"
    )
    assert billing_audit() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "x" * 501}, "description"),
        ({"model_card": "x" * 20_001}, "model_card"),
        ({"price_per_request": "10000.01"}, "price_per_request"),
        ({"price_per_row": "-0.01"}, "price_per_row"),
        ({"is_active": "maybe"}, "is_active"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_values_are_refused_naming_the_field(alice_api, versions, body, field):
    _, second = versions
    response = alice_api.patch(f"{URL}{second.pk}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    second.refresh_from_db()
    assert (second.description, second.model_card, second.price_per_request) == ("", "", Decimal("0.00"))


def test_the_model_card_is_sanitised_in_the_api(alice_api, versions):
    _, second = versions
    response = alice_api.patch(f"{URL}{second.pk}/", {"model_card": HOSTILE_CARD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["model_card"] == HOSTILE_CARD.strip()  # the source is kept as written
    html = body["model_card_html"]
    assert "<h1>Churn</h1>" in html and "<strong>carefully</strong>" in html
    assert '<a href="https://example.com/docs" rel="nofollow noopener noreferrer">docs</a>' in html
    for bad in ("<script", "alert(", "javascript:", "JaVaScRiPt", "onclick", "onerror", "<img"):
        assert bad not in html, bad


def test_a_new_version_keeps_the_description_and_card(alice_api, versions, submit, alice, dataset):
    _, second = versions
    alice_api.patch(
        f"{URL}{second.pk}/", {"description": "Churn risk.", "model_card": "## Data"}, format="json"
    )
    third = train_another(submit, alice, dataset)
    assert (third.description, third.model_card) == ("Churn risk.", "## Data")


def test_the_owner_deletes_a_version_and_the_others_stay(alice_api, versions):
    first, second = versions
    assert alice_api.delete(f"{URL}{first.pk}/").status_code == 204
    assert alice_api.get(f"{URL}{first.pk}/").status_code == 404
    assert active_versions() == [2]
    response = alice_api.post("/api/v1/predictions/", {"model": first.pk, "inputs": ROW}, format="json")
    assert response.status_code == 409 and "deleted" in response.json()["detail"]
    assert billing_audit() == []


def test_the_public_catalog_shows_the_description(bob_api, staff_api, alice_api, versions):
    _, second = versions
    alice_api.patch(f"{URL}{second.pk}/", {"description": "Who will leave next month."}, format="json")
    staff_api.patch(f"{URL}{second.pk}/", {"is_public": True}, format="json")
    listed = bob_api.get(URL).json()["results"]
    assert [(item["id"], item["description"]) for item in listed] == [
        (second.pk, "Who will leave next month.")
    ]


# --- Web ---------------------------------------------------------------------------------


def test_the_owner_makes_a_version_active_from_the_model_page(alice_web, versions):
    first, second = versions
    page = alice_web.get(reverse("mlmodels:model-detail", args=[second.pk])).content.decode()
    assert reverse("mlmodels:model-activate", args=[first.pk]) in page
    assert reverse("predictions:predict", args=[first.pk]) in page  # any ready version
    response = alice_web.post(reverse("mlmodels:model-activate", args=[first.pk]))
    assert response.status_code == 302
    assert active_versions() == [1]
    assert TrainedModel.objects.get(pk=first.pk).active_pinned is True


def test_the_owner_predicts_with_an_older_version_from_the_web(alice_web, alice, versions):
    first, _ = versions
    page = alice_web.get(reverse("predictions:predict", args=[first.pk])).content.decode()
    assert 'id="not-active-note"' in page and "cannot make predictions" not in page
    data = {
        "mode": "json",
        "json-idempotency_key": "k-1",
        "json-inputs": '[{"x": 1, "noise": 0, "color": "red"}]',
    }
    response = alice_web.post(reverse("predictions:predict", args=[first.pk]), data)
    assert response.status_code == 302
    assert Prediction.objects.get().model_id == first.pk
    assert billing_audit() == []


def test_the_owner_writes_a_card_that_is_shown_sanitised(alice_web, versions):
    _, second = versions
    data = {
        "description": "Who will leave.",
        "model_card": HOSTILE_CARD,
        "price_per_request": "0.50",
        "price_per_row": "0.01",
    }
    response = alice_web.post(reverse("mlmodels:model-settings", args=[second.pk]), data)
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.description, second.price_per_request) == ("Who will leave.", Decimal("0.50"))
    page = alice_web.get(reverse("mlmodels:model-detail", args=[second.pk])).content.decode()
    card = page.split('id="model-card">')[1].split("</div>")[0]
    assert "<h1>Churn</h1>" in card and 'href="https://example.com/docs"' in card
    for bad in ("<script", "alert(", "javascript:", "onclick", "onerror"):
        assert bad not in card, bad
    assert "<script>alert" not in page  # nor anywhere else on the page (the form escapes it)
    assert "Who will leave." in page
    listed = alice_web.get(reverse("mlmodels:model-list")).content.decode()
    assert (
        "Who will leave." in listed and '0.50 + 0.01<span class="d-none d-sm-inline"> / row</span>' in listed
    )


def test_the_settings_form_shows_bad_values_and_keeps_the_model(alice_web, versions):
    _, second = versions
    data = {"description": "ok", "model_card": "", "price_per_request": "99999", "price_per_row": "0.01"}
    response = alice_web.post(reverse("mlmodels:model-settings", args=[second.pk]), data)
    assert response.status_code == 400
    assert "less than or equal to 10000" in response.content.decode()
    second.refresh_from_db()
    assert (second.description, second.price_per_request) == ("", Decimal("0.00"))


def test_a_public_models_price_is_not_on_the_owners_form(alice_web, staff_api, versions):
    _, second = versions
    staff_api.patch(f"{URL}{second.pk}/", {"is_public": True, "price_per_row": "0.03"}, format="json")
    page = alice_web.get(reverse("mlmodels:model-detail", args=[second.pk])).content.decode()
    assert 'name="price_per_row"' not in page and 'id="public-price-note"' in page
    data = {"description": "d", "model_card": "", "price_per_row": "0", "price_per_request": "0"}
    assert alice_web.post(reverse("mlmodels:model-settings", args=[second.pk]), data).status_code == 302
    second.refresh_from_db()
    assert (second.description, second.price_per_row) == ("d", Decimal("0.0300"))


def test_another_user_gets_404_on_the_pages_of_a_private_model(client, bob, versions):
    client.force_login(bob)
    first, _ = versions
    assert client.get(reverse("mlmodels:model-detail", args=[first.pk])).status_code == 404
    assert client.post(reverse("mlmodels:model-activate", args=[first.pk])).status_code == 404
    data = {"description": "mine now", "model_card": "", "price_per_row": "0", "price_per_request": "0"}
    assert client.post(reverse("mlmodels:model-settings", args=[first.pk]), data).status_code == 404
    assert active_versions() == [2]
    assert TrainedModel.objects.get(pk=first.pk).description == ""


# --- Admin -------------------------------------------------------------------------------


def test_staff_edit_the_description_and_card_in_the_admin(staff_web, versions):
    _, second = versions
    url = reverse("admin:mlmodels_trainedmodel_change", args=[second.pk])
    assert staff_web.get(url).status_code == 200
    data = {
        "is_public": "",
        "price_per_row": "0.0100",
        "price_per_request": "0.25",
        "description": "From the operators.",
        "model_card": "**Reviewed**",
    }
    response = staff_web.post(url, data)
    assert response.status_code == 302
    second.refresh_from_db()
    assert (second.description, second.model_card, second.price_per_request) == (
        "From the operators.",
        "**Reviewed**",
        Decimal("0.25"),
    )
    assert billing_audit() == []

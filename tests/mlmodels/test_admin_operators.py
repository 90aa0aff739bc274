"""Operators' model screens (issue 15, item 9): bad prices are form errors in words,
publishing another user's model asks to confirm, the algorithm filter lists each name once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from mlmodels.models import Algorithm, TrainedModel
from mlmodels.tasks import train_model_task

BAD_PRICES = ["-1", "10001", "abc", "0.00001"]


@pytest.fixture
def staff_web(client, staff):
    client.force_login(staff)
    return client


def change_url(model) -> str:
    return reverse("admin:mlmodels_trainedmodel_change", args=[model.pk])


@pytest.mark.parametrize("price", BAD_PRICES)
def test_a_bad_price_in_the_change_form_is_a_field_error_in_words(staff_web, trained_model, price):
    response = staff_web.post(change_url(trained_model), {"price_per_row": price})

    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["adminform"].form.errors["price_per_row"]
    assert "onstraint" not in page and "violated" not in page
    trained_model.refresh_from_db()
    assert trained_model.price_per_row == Decimal("0.01")


@pytest.mark.parametrize("price", BAD_PRICES)
def test_a_bad_price_in_the_list_is_a_field_error_in_words(staff_web, trained_model, price):
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(trained_model.pk),
        "form-0-price_per_row": price,
        "_save": "Save",
    }
    response = staff_web.post(reverse("admin:mlmodels_trainedmodel_changelist"), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["cl"].formset.errors[0]["price_per_row"]
    assert "onstraint" not in page and "violated" not in page
    trained_model.refresh_from_db()
    assert trained_model.price_per_row == Decimal("0.01")


def test_publishing_another_users_model_in_the_form_asks_to_confirm(staff_web, trained_model):
    response = staff_web.post(
        change_url(trained_model), {"is_public": "on", "price_per_row": "0.01", "price_per_request": "0.00"}
    )

    assert response.status_code == 200
    assert "alice" in str(response.context["adminform"].form.errors["confirm_publish"])
    trained_model.refresh_from_db()
    assert trained_model.is_public is False

    response = staff_web.post(
        change_url(trained_model),
        {"is_public": "on", "price_per_row": "0.01", "price_per_request": "0.00", "confirm_publish": "on"},
    )
    assert response.status_code == 302
    trained_model.refresh_from_db()
    assert trained_model.is_public is True


def test_the_publish_action_asks_to_confirm_for_another_users_model(staff_web, trained_model):
    url = reverse("admin:mlmodels_trainedmodel_changelist")

    response = staff_web.post(url, {"action": "publish", "_selected_action": [trained_model.pk]})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Publish models of other users?" in page and "alice" in page
    trained_model.refresh_from_db()
    assert trained_model.is_public is False

    response = staff_web.post(
        url, {"action": "publish", "_selected_action": [trained_model.pk], "confirm": "yes"}, follow=True
    )
    assert "is published" in response.content.decode()
    trained_model.refresh_from_db()
    assert trained_model.is_public is True


def test_staff_publish_their_own_model_without_a_question(staff_web, submit, staff, dataset):
    from mlmodels.models import Dataset

    own_dataset = Dataset.objects.get(pk=dataset.pk)
    own_dataset.owner = staff
    own_dataset.save(update_fields=["owner"])
    model = submit(staff, name="mine", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    train_model_task(model.pk)

    response = staff_web.post(
        reverse("admin:mlmodels_trainedmodel_changelist"),
        {"action": "publish", "_selected_action": [model.pk]},
    )

    assert response.status_code == 302
    assert TrainedModel.objects.get(pk=model.pk).is_public is True


def test_the_algorithm_filter_lists_each_name_once(staff_web, trained_model):
    response = staff_web.get(reverse("admin:mlmodels_trainedmodel_changelist"))

    (algorithm_filter,) = [spec for spec in response.context["cl"].filter_specs if spec.title == "algorithm"]
    names = [choice["display"] for choice in algorithm_filter.choices(response.context["cl"])][1:]
    assert sorted(names) == sorted(set(Algorithm.objects.values_list("name", flat=True)))
    assert len(names) == len(set(names))

    filtered = staff_web.get(
        reverse("admin:mlmodels_trainedmodel_changelist") + "?algorithm=Logistic+regression"
    )
    assert list(filtered.context["cl"].result_list) == [trained_model]
    other = staff_web.get(reverse("admin:mlmodels_trainedmodel_changelist") + "?algorithm=Random+forest")
    assert list(other.context["cl"].result_list) == []

"""The first minute: a visitor sees a public model's preview on the home page, a new
user adds a sample dataset in one click and finds public models to try, and a model
page says what it predicts, what each input means, and tries an example row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mlmodels import services
from mlmodels.models import Dataset
from mlmodels.tasks import train_model_task
from predictions.models import Prediction
from tests.mlmodels.conftest import balance_of


@pytest.fixture
def iris_model(staff):
    """A published iris classifier, trained on the sample table like the demo's."""
    dataset = services.dataset_upload_sample(
        user=staff, key="iris", name="Iris flowers (demo)", enqueue_profile=False
    )
    dataset = services.dataset_profile(dataset_id=dataset.pk)
    request = services.training_validate(
        user=staff,
        name="iris-logistic",
        dataset=dataset.pk,
        target="species",
        algorithm="logistic_regression",
    )
    model = services.model_submit(user=staff, request=request, charge=False)
    train_model_task(model.pk)
    model.refresh_from_db()
    return services.model_update_by_staff(model=model, is_public=True)


def test_a_sample_dataset_is_added_in_one_click_with_what_its_columns_mean(alice_web, alice):
    dashboard = alice_web.get(reverse("dashboard")).content.decode()
    assert 'id="sample-datasets"' in dashboard and 'value="breast_cancer"' in dashboard

    response = alice_web.post(reverse("mlmodels:dataset-sample"), {"sample": "iris"})

    dataset = Dataset.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == reverse(
        "mlmodels:dataset-detail", args=[dataset.pk]
    )
    assert (dataset.name, dataset.rows) == ("Iris flowers (sample)", 150)
    meanings = {column["name"]: column.get("description") for column in dataset.columns}
    assert meanings["petal_length_cm"] == "Length of the petal (cm)."


def test_an_unknown_sample_is_refused_and_adds_nothing(alice_web, alice):
    response = alice_web.post(reverse("mlmodels:dataset-sample"), {"sample": "titanic"}, follow=True)

    assert "sample: must be one of" in response.content.decode()
    assert not Dataset.objects.filter(owner=alice).exists()


def test_a_public_model_page_explains_itself_and_tries_the_example(alice_web, alice, iris_model):
    content = alice_web.get(reverse("mlmodels:model-detail", args=[iris_model.pk])).content.decode()

    assert "Predicts species — one of 3 classes (setosa, versicolor, virginica)" in content
    assert "The iris species: setosa, versicolor or virginica." in content
    assert "Width of the petal (cm)." in content
    assert 'id="try-example"' in content
    # the example row: medians of the training data
    assert "<code>5.8</code>" in content and "<code>4.35</code>" in content

    before = balance_of(alice)
    key = content.split('name="json-idempotency_key" value="')[1].split('"')[0]
    inputs = content.split('name="json-inputs" value="')[1].split('"')[0].replace("&quot;", '"')
    response = alice_web.post(
        reverse("predictions:predict", args=[iris_model.pk]),
        {"mode": "json", "json-idempotency_key": key, "json-inputs": inputs},
    )

    prediction = Prediction.objects.get(owner=alice)
    assert response.status_code == 302 and prediction.rows == 1
    assert balance_of(alice) == before - prediction.cost


def test_the_dashboard_offers_the_public_models(alice_web, iris_model):
    content = alice_web.get(reverse("dashboard")).content.decode()

    assert 'id="public-models"' in content
    assert reverse("mlmodels:model-detail", args=[iris_model.pk]) in content


def test_a_visitor_sees_a_read_only_preview_of_a_public_model(client, iris_model):
    content = client.get(reverse("home")).content.decode()

    assert 'id="demo-model"' in content and "Try it: iris-logistic" in content
    assert "<fieldset disabled" in content
    assert "predictions need an account" in content
    assert reverse("predictions:predict", args=[iris_model.pk]) not in content


def test_without_public_models_the_home_page_has_no_preview(client, db):
    assert 'id="demo-model"' not in client.get(reverse("home")).content.decode()

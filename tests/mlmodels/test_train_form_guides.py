"""The train form knows the task from the target and shows every error at once
(issue 15, items 1 and 2): a chosen target says what it is and only the algorithms
for that task are offered; a regression on a 0/1 target is refused naming
``algorithm`` before any charge (page and API alike); the model gets a default name;
feature boxes start checked; every field's error shows in one pass, in its label's words."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from mlmodels.ml import targets
from mlmodels.models import TrainedModel
from tests.mlmodels.conftest import balance_of, ledger_kinds

BINARY_NUMBERS = "x,z,survived\n" + "".join(f"{n},{n * 7 % 5},{n % 2}\n" for n in range(40))


@pytest.mark.parametrize(
    ("kind", "distinct", "tasks", "words"),
    [
        ("numeric", 2, ("classification",), "2 values → binary classification"),
        ("boolean", 2, ("classification",), "binary classification"),
        ("categorical", 3, ("classification",), "3 values → multiclass classification"),
        ("numeric", 7, ("classification", "regression"), "numeric with 7 values"),
        ("numeric", 300, ("regression",), "numeric with 300 values → regression"),
        ("categorical", 500, (), "too many classes"),
        ("numeric", 1, (), "nothing to learn"),
    ],
)
def test_the_task_is_named_from_the_target(kind, distinct, tasks, words):
    suits = targets.target_task(kind, distinct)
    assert suits.tasks == tasks
    assert words in suits.description


def test_a_regression_on_a_0_1_target_is_a_400_naming_algorithm(alice_api, alice, make_dataset):
    titanic = make_dataset(alice, BINARY_NUMBERS, "titanic")
    body = {"name": "t", "dataset": titanic.pk, "target": "survived", "algorithm": "ridge"}

    response = alice_api.post("/api/v1/models/", body, format="json")

    assert response.status_code == 400
    message = response.json()["errors"]["algorithm"][0]
    assert "regression algorithm" in message and "2 values → binary classification" in message
    assert TrainedModel.objects.count() == 0
    assert ledger_kinds(alice) == ["signup_bonus"]


def _options(page: str) -> list[str]:
    select = page.split('name="algorithm"')[1].split("</select>")[0]
    return re.findall(r'<option value="([a-z_]+)"', select)


def test_choosing_the_target_names_the_task_and_offers_only_its_algorithms(alice_web, alice, make_dataset):
    titanic = make_dataset(alice, BINARY_NUMBERS, "titanic")

    page = alice_web.get(
        reverse("mlmodels:model-train"), {"dataset": titanic.pk, "target": "survived"}
    ).content.decode()

    assert "2 values → binary classification" in page
    offered = _options(page)
    assert "logistic_regression" in offered and "random_forest_classifier" in offered
    assert "ridge" not in offered and "linear_regression" not in offered
    assert "(classification)" in page.split('name="algorithm"')[1].split("</select>")[0]


def test_the_model_gets_a_default_name_unless_one_was_typed(alice_web, alice, dataset):
    url = reverse("mlmodels:model-train")
    page = alice_web.get(url, {"dataset": dataset.pk, "target": "label"}).content.decode()
    assert 'name="name" value="customers-label"' in page

    typed = alice_web.get(
        url, {"dataset": dataset.pk, "target": "x", "name": "my churn", "default_name": "customers-label"}
    ).content.decode()
    assert 'value="my churn"' in typed
    followed = alice_web.get(
        url,
        {
            "dataset": dataset.pk,
            "target": "color",
            "name": "customers-label",
            "default_name": "customers-label",
        },
    ).content.decode()
    assert 'name="name" value="customers-color"' in followed


def test_feature_boxes_start_checked_but_the_id_and_the_constant(alice_web, dataset):
    page = alice_web.get(
        reverse("mlmodels:model-train"), {"dataset": dataset.pk, "target": "label"}
    ).content.decode()

    checked = set(re.findall(r'name="features" value="([^"]+)"[^>]*checked', page))
    assert checked == {"x", "noise", "color"}
    assert 'name="features" value="id"' in page and 'name="features" value="constant"' in page


def test_unchecking_every_feature_is_refused_by_name(alice_web, alice, dataset):
    response = alice_web.post(
        reverse("mlmodels:model-train"),
        {"name": "c", "dataset": dataset.pk, "target": "label", "algorithm": "logistic_regression"},
    )
    assert "Check at least one feature column." in response.content.decode()
    assert TrainedModel.objects.count() == 0


def test_every_error_shows_at_once_in_the_labels_words(alice_web, alice, dataset):
    response = alice_web.post(
        reverse("mlmodels:model-train"),
        {
            "name": "",
            "dataset": dataset.pk,
            "target": "label",
            "algorithm": "gradient_boosting_classifier",
            "hp_learning_rate": "5",
            "hp_max_iter": "2.5",
            "test_size": "0.9",
            "random_state": "seed",
            "features": ["x", "color"],
        },
    )

    content = response.content.decode()
    assert "Model name is required." in content
    assert "Random seed must be a whole number." in content
    assert "Max iter must be a whole number." in content
    # Checked by the service in the same pass, although the form had errors already.
    assert "Learning rate must be between" in content
    assert "Test size must be from 0.05 to 0.5" in content
    assert "Nothing was charged." in content
    assert balance_of(alice) == Decimal("500.00")
    # The inputs keep their limits for the browser.
    assert re.search(r'name="hp_learning_rate"[^>]*max="1', content) or re.search(
        r'max="1[^"]*"[^>]*name="hp_learning_rate"', content
    )

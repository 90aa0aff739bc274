"""Comparing models: the list's dataset/target filters and metric sort (never mixing
a classifier's accuracy with a regressor's R²), the compare page, the majority-class
baseline and the threshold counts behind the model page's slider."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from mlmodels.ml.metrics import THRESHOLD_STEPS, majority_baseline, threshold_counts
from mlmodels.tasks import train_model_task


@pytest.fixture
def train(submit, alice):
    def run(dataset, target, algorithm, name):
        model = submit(alice, name=name, dataset=dataset.pk, target=target, algorithm=algorithm)
        train_model_task(model.pk)
        model.refresh_from_db()
        assert model.status == "ready", model.error
        return model

    return run


def test_threshold_counts_are_the_holdout_confusion_at_each_cut_off():
    truth = np.array(["no", "yes", "yes", "no", "yes"])
    scores = np.array([0.1, 0.9, 0.5, 0.6, 0.7])

    counts = threshold_counts(truth, scores, "yes")

    assert len(counts["thresholds"]) == THRESHOLD_STEPS + 1 == 101
    half = counts["thresholds"].index(0.5)
    # above 0.5: yes 0.9, yes 0.7 (true positives), no 0.6 (false positive)
    assert (counts["tp"][half], counts["fp"][half], counts["fn"][half], counts["tn"][half]) == (2, 1, 1, 1)
    assert (counts["tp"][0], counts["fp"][0]) == (3, 2)  # everything is "yes"
    assert (counts["tp"][-1], counts["fp"][-1]) == (0, 0)  # nothing is


def test_the_majority_baseline_is_the_share_of_the_most_frequent_true_class():
    baseline = majority_baseline({"labels": ["benign", "malignant"], "matrix": [[60, 3], [5, 32]]})
    assert baseline == {"label": "benign", "accuracy": 0.63}
    assert majority_baseline({}) is None


def test_a_binary_model_page_has_the_baseline_and_a_threshold_slider(alice_web, trained_model):
    assert len(trained_model.metrics["threshold_counts"]["tp"]) == 101

    content = alice_web.get(reverse("mlmodels:model-detail", args=[trained_model.pk])).content.decode()

    total = sum(sum(row) for row in trained_model.metrics["confusion_matrix"]["matrix"])
    largest = max(sum(row) for row in trained_model.metrics["confusion_matrix"]["matrix"])
    assert f"baseline {largest / total:.3f}" in content
    assert 'id="threshold"' in content and 'type="range"' in content
    assert 'id="threshold-data"' in content and "js/threshold.js" in content


def test_sorting_by_a_metric_keeps_only_models_of_its_task(alice_web, train, dataset, regression_dataset):
    classifier = train(dataset, "label", "logistic_regression", "churn")
    forest = train(dataset, "label", "random_forest_classifier", "churn-forest")
    regressor = train(regression_dataset, "price", "ridge", "houses")

    by_accuracy = alice_web.get(reverse("mlmodels:model-list"), {"sort": "accuracy"})
    shown = [model.pk for model in by_accuracy.context["page"]]
    assert sorted(shown) == sorted([classifier.pk, forest.pk])
    accuracies = [model.metrics["accuracy"] for model in by_accuracy.context["page"]]
    assert accuracies == sorted(accuracies, reverse=True)
    assert "Ready classification models only" in by_accuracy.content.decode()

    by_error = alice_web.get(reverse("mlmodels:model-list"), {"sort": "mae"})
    assert [model.pk for model in by_error.context["page"]] == [regressor.pk]


def test_the_list_filters_by_dataset_and_target_and_offers_to_compare(
    alice_web, train, dataset, regression_dataset
):
    classifier = train(dataset, "label", "logistic_regression", "churn")
    train(regression_dataset, "price", "ridge", "houses")

    response = alice_web.get(reverse("mlmodels:model-list"), {"dataset": dataset.pk, "target": "label"})

    assert [model.pk for model in response.context["page"]] == [classifier.pk]
    content = response.content.decode()
    assert 'id="compare-form"' in content and f'name="models" value="{classifier.pk}"' in content


def test_the_compare_page_puts_models_side_by_side(alice_web, train, dataset):
    first = train(dataset, "label", "logistic_regression", "churn")
    second = train(dataset, "label", "random_forest_classifier", "churn-forest")

    response = alice_web.get(reverse("mlmodels:model-compare"), {"models": [first.pk, second.pk]})

    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="compare-metrics"' in content and "Majority-class baseline" in content
    assert str(first) in content and str(second) in content
    assert 'data-chart="roc-compare"' in content and 'data-chart="importance-compare"' in content


def test_models_of_different_datasets_are_not_compared(alice_web, train, dataset, regression_dataset):
    classifier = train(dataset, "label", "logistic_regression", "churn")
    regressor = train(regression_dataset, "price", "ridge", "houses")

    response = alice_web.get(
        reverse("mlmodels:model-compare"), {"models": [classifier.pk, regressor.pk]}, follow=True
    )

    assert "Compare models of the same dataset and target" in response.content.decode()
    single = alice_web.get(reverse("mlmodels:model-compare"), {"models": [classifier.pk]}, follow=True)
    assert "Pick at least two models to compare." in single.content.decode()


def test_bob_cannot_compare_alices_private_models(client, bob, train, dataset):
    first = train(dataset, "label", "logistic_regression", "churn")
    second = train(dataset, "label", "random_forest_classifier", "churn-forest")
    client.force_login(bob)

    response = client.get(reverse("mlmodels:model-compare"), {"models": [first.pk, second.pk]})

    assert response.status_code == 404


def test_the_api_sorts_by_a_metric_and_refuses_an_unknown_one(alice_api, train, dataset, regression_dataset):
    train(dataset, "label", "logistic_regression", "churn")
    regressor = train(regression_dataset, "price", "ridge", "houses")

    answer = alice_api.get("/api/v1/models/", {"sort": "r2"})
    assert [row["id"] for row in answer.json()["results"]] == [regressor.pk]

    refused = alice_api.get("/api/v1/models/", {"sort": "speed"})
    assert refused.status_code == 400 and "sort" in refused.json()["errors"]

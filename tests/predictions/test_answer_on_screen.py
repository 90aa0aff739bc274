"""The answer on screen (issue 15, item 3): a one-row prediction sent from the form
(htmx) comes back under the form — the class in large type with its probability and a
bar per class, or the value — with the inputs kept for a "what if", links to the job and
the charge; fields say their type, range or known values and carry an example from the
training data; an all-empty form is refused before any charge; result tables put the
prediction and probabilities first; no "queued" message stays on the job page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from predictions import services, tasks
from predictions import views as prediction_views
from predictions.models import Prediction
from tests.predictions.test_views import predict_url, row_post

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _empty_model_cache():
    tasks.cache_clear()


@pytest.fixture
def worker_answers_at_once(monkeypatch, django_capture_on_commit_callbacks):
    """The page's wait (the API's Prefer: wait) stands in for a worker here: the job runs
    when the page starts waiting for it. Real workers answer in tests/e2e."""

    def wait(kind, job_id, *, wait, user_id, replayed):
        tasks.run_prediction(job_id)
        return True

    monkeypatch.setattr(prediction_views, "wait_for_submission", wait)


def test_one_row_answers_under_the_form_with_the_class_its_probability_and_bars(
    alice_web, alice, classifier, balance, worker_answers_at_once
):
    response = alice_web.post(predict_url(classifier), row_post(classifier, age="61"), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    prediction = Prediction.objects.get()
    assert prediction.status == "succeeded"
    value = prediction.results[0]["prediction"]
    assert re.search(rf'id="answer-value">\s*{value}\s*<', html)
    probability = prediction.results[0]["probabilities"][str(value)]
    assert f"with probability {probability:.3f}" in html
    assert html.count('class="d-flex align-items-center gap-2 mb-1 answer-bar"') == len(classifier.classes)
    # Links to the job and the charge; the nav balance is refreshed out of band.
    assert reverse("predictions:detail", args=[prediction.pk]) in html
    assert reverse("billing:page") in html and "0.05 coins" in html
    assert 'id="nav-balance" hx-swap-oob="true"' in html
    assert balance(alice) == Decimal("499.95")
    # The inputs stay for a "what if", under a new key (the next click is a new prediction).
    assert 'value="61"' in html
    key = re.search(r'name="row-idempotency_key" value="([0-9a-f]+)"', html).group(1)
    assert key != "web-key-1"


def test_a_regression_answers_with_its_value(alice_web, regressor, worker_answers_at_once):
    response = alice_web.post(predict_url(regressor), row_post(regressor), **HTMX)

    html = response.content.decode()
    assert 'id="answer-value"' in html
    assert "answer-bar" not in html and "with probability" not in html


def test_form_errors_come_back_in_place_as_a_200_for_htmx(alice_web, alice, classifier, balance):
    response = alice_web.post(predict_url(classifier), row_post(classifier, age="old"), **HTMX)

    assert response.status_code == 200  # htmx swaps 2xx answers only
    assert 'id="answer"' not in response.content.decode()
    assert Prediction.objects.count() == 0 and balance(alice) == Decimal("500.00")


@pytest.mark.parametrize("headers", [HTMX, {}])
def test_a_form_with_every_field_empty_is_refused_before_any_charge(
    alice_web, alice, classifier, balance, headers
):
    empty = row_post(classifier, age="", income="", color="", member="")

    response = alice_web.post(predict_url(classifier), empty, **headers)

    assert "Fill in at least one field" in response.content.decode()
    assert Prediction.objects.count() == 0
    assert balance(alice) == Decimal("500.00")


def test_each_field_says_its_type_range_or_values_and_carries_an_example(alice_web, classifier):
    html = alice_web.get(predict_url(classifier)).content.decode()

    features = {feature["name"]: feature for feature in classifier.feature_schema["features"]}
    age = features["age"]
    assert age["example"] is not None and age["minimum"] is not None
    assert re.search(r"Number, [-\d.]+ to [-\d.]+ in training; typical", html)
    assert "One of " in html and "red" in html  # the colour's known values
    assert "true or false." in html
    assert f'data-example="{age["example"]}"' in html
    assert 'id="fill-example"' in html


def test_the_results_table_shows_the_prediction_and_probabilities_first(alice_web, alice, classifier, row):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=[row]).prediction
    tasks.run_prediction(prediction.pk)

    html = alice_web.get(reverse("predictions:status", args=[prediction.pk])).content.decode()

    header = re.findall(r"<th[^>]*>([^<]+)</th>", html.split('id="results"')[1].split("</thead>")[0])
    assert header[:2] == ["#", "prediction"]
    assert header[2].startswith("probability_")
    assert header[-1] in {"age", "income", "color", "member"}


def test_no_queued_message_is_left_on_the_job_page(alice_web, classifier):
    response = alice_web.post(predict_url(classifier), row_post(classifier), follow=True)

    assert response.redirect_chain and "queued:" not in response.content.decode()

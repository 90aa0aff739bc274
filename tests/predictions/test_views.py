"""The web pages: predict (one row, CSV, JSON — the same service as the API), the
live prediction page, cancel, download and the history."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from billing.models import LedgerEntry
from predictions import services, tasks
from predictions.models import Prediction


def predict_url(model) -> str:
    return reverse("predictions:predict", args=[model.pk])


def row_post(classifier, **values) -> dict:
    data = {"mode": "row", "row-idempotency_key": "web-key-1"}
    names = [feature["name"] for feature in classifier.feature_schema["features"]]
    defaults = {"age": "44", "income": "51.5", "color": "red", "member": "true"}
    defaults.update(values)
    for index, name in enumerate(names):
        data[f"row-feature_{index}"] = defaults[name]
    return data


@pytest.fixture(autouse=True)
def _empty_model_cache():
    tasks.cache_clear()


def test_the_predict_page_has_a_form_from_the_schema_and_quotes_the_price(alice_web, classifier):
    response = alice_web.get(predict_url(classifier))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="number"' in html  # numeric features
    assert '<option value="red">red</option>' in html  # known categories
    assert "(other / missing)" in html
    assert "0.05 per row" in html and "Cost: <strong>0.05</strong>" in html
    assert 'data-price="0.0500"' in html
    assert "js/predict.js" in html


def test_one_row_from_the_web_form_is_charged_and_queued(alice_web, alice, classifier, balance):
    response = alice_web.post(predict_url(classifier), row_post(classifier))

    prediction = Prediction.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "predictions:detail", args=[prediction.pk]
    )
    assert prediction.inputs == [{"age": "44", "income": "51.5", "color": "red", "member": "true"}]
    assert prediction.cost == Decimal("0.05")
    assert balance(alice) == Decimal("499.95")


def test_a_double_submitted_form_charges_once(alice_web, alice, classifier, balance):
    first = alice_web.post(predict_url(classifier), row_post(classifier))
    again = alice_web.post(predict_url(classifier), row_post(classifier))
    assert first["Location"] == again["Location"]
    assert Prediction.objects.count() == 1 and balance(alice) == Decimal("499.95")
    other = alice_web.post(predict_url(classifier), row_post(classifier, age="30"))
    assert other.status_code == 400
    assert "already used" in other.content.decode()
    assert Prediction.objects.count() == 1


def test_empty_fields_are_missing_values(alice_web, classifier):
    alice_web.post(predict_url(classifier), row_post(classifier, income="", color=""))
    assert Prediction.objects.get().inputs == [{"age": "44", "income": None, "color": None, "member": "true"}]


def test_a_csv_from_the_web_form_is_streamed_to_storage(alice_web, alice, classifier, make_csv, settings):
    upload = SimpleUploadedFile("mine.csv", make_csv(12).encode(), content_type="text/csv")
    response = alice_web.post(
        predict_url(classifier), {"mode": "csv", "csv-file": upload, "csv-idempotency_key": "k"}
    )
    assert response.status_code == 302
    prediction = Prediction.objects.get()
    assert (prediction.rows, prediction.cost, prediction.input_filename) == (12, Decimal("0.60"), "mine.csv")
    assert (Path(settings.MEDIA_ROOT) / prediction.input_file.name).read_text() == make_csv(12)


def test_csv_errors_show_next_to_the_file_field_and_nothing_is_kept(
    alice_web, alice, classifier, settings, balance
):
    upload = SimpleUploadedFile("bad.csv", b"age,color\n1,red\n", content_type="text/csv")
    response = alice_web.post(predict_url(classifier), {"mode": "csv", "csv-file": upload})
    assert response.status_code == 400
    form = response.context["csv_form"]
    assert "income" in form.errors["file"][0]
    assert response.context["active"] == "csv"
    assert Prediction.objects.count() == 0 and balance(alice) == Decimal("500.00")
    assert list(Path(settings.MEDIA_ROOT).rglob("*.csv")) == []


def test_a_too_large_file_is_refused_on_the_form(alice_web, classifier, make_csv, settings):
    settings.PREDICTION_MAX_BYTES = 50
    upload = SimpleUploadedFile("big.csv", make_csv(30).encode(), content_type="text/csv")
    response = alice_web.post(predict_url(classifier), {"mode": "csv", "csv-file": upload})
    assert response.status_code == 413
    assert "too large" in response.content.decode() or "larger than" in response.content.decode()
    assert list(Path(settings.MEDIA_ROOT).rglob("*.csv")) == []


def test_json_from_the_web_form(alice_web, classifier, row):
    import json

    response = alice_web.post(
        predict_url(classifier), {"mode": "json", "json-inputs": json.dumps([row, row])}
    )
    assert response.status_code == 302
    assert Prediction.objects.get().rows == 2


def test_json_errors_show_next_to_the_box(alice_web, classifier, balance, alice):
    response = alice_web.post(predict_url(classifier), {"mode": "json", "json-inputs": "[{"})
    assert "not valid JSON" in response.context["json_form"].errors["inputs"][0]
    response = alice_web.post(predict_url(classifier), {"mode": "json", "json-inputs": '[{"age": "x"}]'})
    assert response.status_code == 400
    assert "missing columns" in response.context["json_form"].errors["inputs"][0]
    assert Prediction.objects.count() == 0 and balance(alice) == Decimal("500.00")


def test_not_enough_coins_shows_on_the_form(alice_web, alice, make_model, balance):
    model = make_model(owner=alice, price_per_row=Decimal("600"))
    response = alice_web.post(predict_url(model), row_post(model))
    assert response.status_code == 400
    assert "Not enough coins" in response.content.decode()
    assert Prediction.objects.count() == 0 and balance(alice) == Decimal("500.00")


def test_another_users_private_model_has_no_predict_page(client, bob, classifier):
    client.force_login(bob)
    assert client.get(predict_url(classifier)).status_code == 404
    assert client.post(predict_url(classifier), row_post(classifier)).status_code == 404


def test_the_prediction_page_polls_until_finished_then_shows_results(alice_web, alice, classifier, row):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=[row, row]).prediction
    page = alice_web.get(reverse("predictions:detail", args=[prediction.pk])).content.decode()
    status_url = reverse("predictions:status", args=[prediction.pk])
    assert f'hx-get="{status_url}"' in page and 'hx-trigger="every 1s"' in page
    assert "Cancel" in page

    tasks.run_prediction(prediction.pk)

    partial = alice_web.get(status_url).content.decode()
    assert "hx-trigger" not in partial  # polling stops
    assert "probability_yes" in partial and "Download CSV" in partial
    assert 'id="results"' in partial
    assert "Prediction charge" in partial


def test_cancel_from_the_web_refunds(alice_web, alice, classifier, row, balance):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    response = alice_web.post(reverse("predictions:cancel", args=[prediction.pk]), follow=True)
    assert "canceled" in response.content.decode()
    prediction.refresh_from_db()
    assert prediction.status == "canceled" and balance(alice) == Decimal("500.00")
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    response = alice_web.post(reverse("predictions:cancel", args=[prediction.pk]), follow=True)
    assert "was canceled already" in response.content.decode()


def test_download_from_the_web(alice_web, alice, classifier, row):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    url = reverse("predictions:download", args=[prediction.pk])
    assert alice_web.get(url).status_code == 302  # not ready yet: back to the page with a message
    tasks.run_prediction(prediction.pk)
    response = alice_web.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert b"".join(response.streaming_content).startswith(b"age,income,color,member,prediction")


def test_bob_gets_404_on_alices_prediction_pages(client, bob, alice, classifier, row):
    prediction = services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row).prediction
    client.force_login(bob)
    for name in ("detail", "status", "download"):
        assert client.get(reverse(f"predictions:{name}", args=[prediction.pk])).status_code == 404
    assert client.post(reverse("predictions:cancel", args=[prediction.pk])).status_code == 404
    assert Prediction.objects.get().status == "queued"


def test_the_history_filters_and_paginates(alice_web, alice, classifier, regressor, row, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 50  # no worker runs: all 23 stay queued
    for _ in range(22):
        services.prediction_submit(user=alice, model_id=classifier.pk, inputs=row)
    other = services.prediction_submit(user=alice, model_id=regressor.pk, inputs=row).prediction
    Prediction.objects.filter(pk=other.pk).update(status="failed")

    page = alice_web.get(reverse("predictions:list"))
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 23 and len(page.context["page"].object_list) == 20
    assert page.context["page"].object_list[0] == other

    filtered = alice_web.get(reverse("predictions:list"), {"status": "failed"})
    assert list(filtered.context["page"].object_list) == [other]
    by_model = alice_web.get(reverse("predictions:list"), {"model": classifier.pk, "page": 2})
    assert by_model.context["page"].paginator.count == 22 and len(by_model.context["page"].object_list) == 2
    assert f"model={classifier.pk}" in by_model.context["query"]

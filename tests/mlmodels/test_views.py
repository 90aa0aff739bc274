"""Web pages: upload, dataset page with its profile, train form (htmx), model pages
with their charts and live progress, and access rules."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from mlmodels.models import Dataset, TrainedModel
from mlmodels.tasks import train_model_task
from tests.mlmodels.conftest import (
    FEE,
    balance_of,
    classification_csv,
    ledger_kinds,
    media_files,
    upload_file,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_pages_need_a_login(client, dataset):
    for url in (
        reverse("mlmodels:dataset-list"),
        reverse("mlmodels:dataset-upload"),
        reverse("mlmodels:dataset-detail", args=[dataset.pk]),
        reverse("mlmodels:model-list"),
        reverse("mlmodels:model-train"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_empty_lists_say_what_to_do_next(alice_web):
    datasets = alice_web.get(reverse("mlmodels:dataset-list"))
    models = alice_web.get(reverse("mlmodels:model-list"))
    train = alice_web.get(reverse("mlmodels:model-train"))

    assert "Upload a CSV file" in datasets.content.decode()
    assert "train your first model" in models.content.decode()
    assert "You need a dataset first" in train.content.decode()


def test_uploading_a_good_csv_redirects_to_its_page(alice_web, alice):
    response = alice_web.post(
        reverse("mlmodels:dataset-upload"),
        {"file": upload_file(classification_csv(), "shop.csv"), "name": ""},
    )

    dataset = Dataset.objects.get(owner=alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("mlmodels:dataset-detail", args=[dataset.pk])
    page = alice_web.get(response["Location"])
    content = page.content.decode()
    assert "Uploaded “shop”: 60 rows, 6 columns" in content
    # While profiling, the status polls itself.
    assert 'hx-trigger="every 1s"' in content
    assert reverse("mlmodels:dataset-status", args=[dataset.pk]) in content


def test_a_bad_file_shows_the_reason_next_to_the_field_and_stores_nothing(alice_web, settings):
    response = alice_web.post(
        reverse("mlmodels:dataset-upload"), {"file": upload_file("a,b\n1,2\n3,4,5\n"), "name": "broken"}
    )

    assert response.status_code == 200
    assert "line 3 has 3 fields, expected 2" in response.content.decode()
    assert Dataset.objects.count() == 0
    assert media_files(settings) == []


def test_a_too_large_upload_is_refused(alice_web, settings):
    settings.DATASET_MAX_BYTES = 10
    response = alice_web.post(reverse("mlmodels:dataset-upload"), {"file": upload_file(classification_csv())})

    assert response.status_code == 200
    # One unit system: the same words as the form's help text (core.units.human_size).
    assert "the limit is 10 bytes" in response.content.decode()
    assert Dataset.objects.count() == 0
    assert media_files(settings) == []


def test_the_form_and_the_refusal_state_the_size_limit_in_the_same_words(alice_web, settings):
    settings.DATASET_MAX_BYTES = 50 * 1024 * 1024
    form = alice_web.get(reverse("mlmodels:dataset-upload")).content.decode()
    big = upload_file(b"a,b\n" + b"1,2\n" * (13 * 1024 * 1024))  # 52 MiB

    refused = alice_web.post(reverse("mlmodels:dataset-upload"), {"file": big}).content.decode()

    assert "50.0 MB" in form
    assert "the limit is 50.0 MB" in refused and "52.4" not in refused
    assert Dataset.objects.count() == 0


def test_the_dataset_page_names_the_encoding_it_was_read_in(alice_web, make_dataset, alice):
    text = "name,price,label\n“Caffè” crème,3 €,a\nKaffee’s,4 €,b\n" * 5
    dataset = make_dataset(alice, text.encode("cp1252"), "windows")

    page = alice_web.get(reverse("mlmodels:dataset-detail", args=[dataset.pk])).content.decode()

    assert "Windows-1252 (Western European)" in page
    assert "“Caffè” crème" in page


def test_the_dataset_page_shows_statistics_charts_and_correlations(alice_web, dataset):
    response = alice_web.get(reverse("mlmodels:dataset-detail", args=[dataset.pk]))

    assert response.status_code == 200
    content = response.content.decode()
    assert 'hx-trigger="every 1s"' not in content
    # The id (1..60) gets an alert instead of a chart.
    assert content.count('data-chart="column"') == 5
    assert 'id="profile-columns"' in content
    assert 'id="correlations"' in content
    assert "js/charts.js" in content and "chartjs/chart.umd.min.js" in content
    columns = json.loads(
        content.split('id="profile-columns" type="application/json">')[1].split("</script>")[0]
    )
    assert [column["name"] for column in columns] == ["x", "noise", "color", "constant", "label"]
    assert 'id="profile-alerts"' in content
    assert "id looks like an identifier (60 different values)" in content
    assert "constant has a single value" in content


def test_the_status_partial_stops_polling_and_refreshes_once_profiled(alice_web, alice, make_dataset):
    from mlmodels import services

    dataset = services.dataset_upload(
        user=alice, file=upload_file(classification_csv()), name="d", enqueue_profile=False
    )
    url = reverse("mlmodels:dataset-status", args=[dataset.pk])
    polling = alice_web.get(url, **HTMX)
    assert 'hx-trigger="every 1s"' in polling.content.decode()
    assert "HX-Refresh" not in polling

    services.dataset_profile(dataset_id=dataset.pk)
    done = alice_web.get(url, **HTMX)

    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_bob_gets_404_for_alices_pages(client, bob, dataset, trained_model):
    client.force_login(bob)
    for url in (
        reverse("mlmodels:dataset-detail", args=[dataset.pk]),
        reverse("mlmodels:dataset-status", args=[dataset.pk]),
        reverse("mlmodels:model-detail", args=[trained_model.pk]),
        reverse("mlmodels:model-status", args=[trained_model.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("mlmodels:dataset-delete", args=[dataset.pk])).status_code == 404
    assert client.post(reverse("mlmodels:model-delete", args=[trained_model.pk])).status_code == 404
    assert Dataset.objects.filter(pk=dataset.pk).exists()
    assert TrainedModel.objects.get(pk=trained_model.pk).deleted_at is None


def test_deleting_a_dataset_from_its_page(alice_web, dataset, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_web.post(reverse("mlmodels:dataset-delete", args=[dataset.pk]), follow=True)

    assert "Deleted the dataset “customers”" in response.content.decode()
    assert not Dataset.objects.exists()
    assert media_files(settings) == []


def test_the_train_form_offers_the_datasets_columns_and_the_algorithms_fields(alice_web, dataset):
    response = alice_web.get(reverse("mlmodels:model-train"), {"dataset": dataset.pk})

    content = response.content.decode()
    assert response.status_code == 200
    assert '<option value="label">label (categorical)</option>' in content
    assert 'hx-get="/models/train/"' in content
    assert "Choose an algorithm to set its hyperparameters" in content

    # Choosing an algorithm re-renders the fields (htmx) with its hyperparameters.
    partial = alice_web.get(
        reverse("mlmodels:model-train"),
        {"dataset": dataset.pk, "target": "label", "algorithm": "random_forest_classifier"},
        HTTP_HX_TRIGGER_NAME="algorithm",
        **HTMX,
    )
    content = partial.content.decode()
    assert partial.status_code == 200
    assert content.lstrip().startswith('<div id="train-fields">')
    assert 'name="hp_n_estimators"' in content and 'value="100"' in content
    assert "Number of trees." in content
    assert 'name="hp_max_depth"' in content
    # The target is not offered as a feature.
    assert 'name="features" value="x"' in content
    assert 'name="features" value="label"' not in content


# The train form as a browser sends it for a small random forest (the dataset is added).
FOREST_FORM = {
    "name": "churn",
    "target": "label",
    "algorithm": "random_forest_classifier",
    "hp_n_estimators": "15",
    "hp_max_depth": "",
    "hp_min_samples_split": "2",
    "hp_min_samples_leaf": "1",
    "hp_max_features": "sqrt",
    "hp_class_weight": "none",
    "test_size": "0.2",
    "random_state": "42",
    # The boxes that start checked: every column but the target, the id and the constant.
    "features": ["x", "noise", "color"],
}


def test_submitting_the_train_form_starts_training_and_charges(alice_web, alice, dataset):
    response = alice_web.post(
        reverse("mlmodels:model-train"),
        {
            **FOREST_FORM,
            "dataset": dataset.pk,
            "test_size": "0.25",
            "random_state": "3",
            "features": ["x", "color"],
        },
    )

    model = TrainedModel.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("mlmodels:model-detail", args=[model.pk])
    assert model.hyperparameters["n_estimators"] == 15 and model.hyperparameters["max_depth"] is None
    assert (model.test_size, model.random_state, model.requested_features) == (0.25, 3, ["x", "color"])
    assert balance_of(alice) == Decimal("500.00") - FEE

    page = alice_web.get(response["Location"]).content.decode()
    assert "Training “churn v1” has started; 5.00 coins were charged." in page
    assert f'hx-get="/models/{model.pk}/status/"' in page
    assert "Waiting for a worker" in page


def test_submitting_the_train_form_twice_trains_and_charges_once(alice_web, alice, dataset):
    # A double click or a refreshed page sends the same form, with the key the page got.
    page = alice_web.get(reverse("mlmodels:model-train"), {"dataset": dataset.pk}).content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', page).group(1)
    form = {**FOREST_FORM, "idempotency_key": key, "dataset": dataset.pk}

    first = alice_web.post(reverse("mlmodels:model-train"), form)
    second = alice_web.post(reverse("mlmodels:model-train"), form)

    model = TrainedModel.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("mlmodels:model-detail", args=[model.pk])
    assert balance_of(alice) == Decimal("500.00") - FEE
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee"]
    # The same page sent again with other values (the back button) is a new request.
    changed = alice_web.post(reverse("mlmodels:model-train"), {**form, "name": "other"})
    assert "This form was already sent with other values" in changed.content.decode()
    assert TrainedModel.objects.count() == 1


def test_a_bad_hyperparameter_is_shown_next_to_its_field_and_nothing_is_charged(alice_web, alice, dataset):
    response = alice_web.post(
        reverse("mlmodels:model-train"),
        {
            "name": "churn",
            "dataset": dataset.pk,
            "target": "label",
            "algorithm": "ridge",
            "hp_alpha": "-3",
            "hp_fit_intercept": "on",
            "test_size": "0.2",
            "random_state": "42",
        },
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "Alpha must be between 0 and 1000000" in content  # in the label's words
    assert "choose a classification algorithm" in content
    assert TrainedModel.objects.count() == 0
    assert ledger_kinds(alice) == ["signup_bonus"]


def test_the_model_page_of_a_classifier_shows_metrics_and_charts(alice_web, trained_model):
    response = alice_web.get(reverse("mlmodels:model-detail", args=[trained_model.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="confusion-matrix"' in content
    assert 'data-chart="roc"' in content and 'id="roc-data"' in content
    assert 'data-chart="importance"' in content and 'id="importance-data"' in content
    assert 'id="feature-schema"' in content and 'id="hyperparameters"' in content
    assert "unique on every row" in content  # why id was left out
    assert 'hx-trigger="every 1s"' not in content


def test_the_model_page_of_a_regressor_shows_the_residual_plot(alice_web, submit, alice, regression_dataset):
    model = submit(alice, name="houses", dataset=regression_dataset.pk, target="price", algorithm="ridge")
    train_model_task(model.pk)

    content = alice_web.get(reverse("mlmodels:model-detail", args=[model.pk])).content.decode()

    assert 'data-chart="residuals"' in content and 'id="residual-data"' in content
    assert "R²" in content
    assert 'id="confusion-matrix"' not in content


def test_the_progress_partial_polls_while_running_and_stops_when_done(alice_web, submit, alice, dataset):
    from mlmodels import services

    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    services.training_claim(model_id=model.pk)
    TrainedModel.objects.filter(pk=model.pk).update(stage="fitting", progress=40)
    url = reverse("mlmodels:model-status", args=[model.pk])

    running = alice_web.get(url, **HTMX)
    assert 'hx-trigger="every 1s"' in running.content.decode()
    assert 'aria-valuenow="40"' in running.content.decode()
    assert "Training: fitting" in running.content.decode()

    services.training_execute(model_id=model.pk)
    done = alice_web.get(url, **HTMX)
    assert "hx-trigger" not in done.content.decode()
    assert done["HX-Refresh"] == "true"


def test_a_failed_model_page_says_why_and_that_the_fee_was_refunded(
    alice_web, submit, alice, dataset, settings
):
    from pathlib import Path

    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    (Path(settings.MEDIA_ROOT) / dataset.file.name).unlink()
    train_model_task(model.pk)

    content = alice_web.get(reverse("mlmodels:model-detail", args=[model.pk])).content.decode()

    assert "Training failed" in content
    assert "is missing" in content
    assert "was refunded" in content


def test_the_model_list_filters_and_shows_the_public_catalog(client, bob, trained_model, staff):
    from mlmodels import services

    client.force_login(bob)
    assert "No models yet" in client.get(reverse("mlmodels:model-list")).content.decode()

    services.model_update_by_staff(model=trained_model, is_public=True)
    content = client.get(reverse("mlmodels:model-list")).content.decode()
    assert reverse("mlmodels:model-detail", args=[trained_model.pk]) in content
    assert "public" in content
    mine = client.get(reverse("mlmodels:model-list"), {"mine": "true"}).content.decode()
    assert "No models match these filters" in mine
    assert client.get(reverse("mlmodels:model-detail", args=[trained_model.pk])).status_code == 200


@pytest.mark.parametrize("who", ["alice", "staff"])
def test_owner_or_staff_delete_a_model_from_its_page(client, who, trained_model, alice, staff):
    client.force_login(alice if who == "alice" else staff)

    response = client.post(reverse("mlmodels:model-delete", args=[trained_model.pk]), follow=True)

    assert response.status_code == 200
    assert "Deleted the model" in response.content.decode()
    assert TrainedModel.objects.get(pk=trained_model.pk).deleted_at is not None

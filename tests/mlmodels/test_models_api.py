"""models/ reads, delete (soft) and the staff actions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mlmodels.models import TrainedModel
from tests.mlmodels.conftest import media_files

URL = "/api/v1/models/"

API_FIELDS = {
    "id",
    "name",
    "version",
    "algorithm",
    "task",
    "hyperparameters",
    "status",
    "progress",
    "error",
    "metrics",
    "features",
    "target",
    "classes",
    "price_per_row",
    "is_public",
    "is_active",
    "owner",
    "created_at",
    "started_at",
    "finished_at",
}


def test_detail_has_every_field_of_the_contract(alice_api, trained_model):
    response = alice_api.get(f"{URL}{trained_model.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= API_FIELDS
    assert body["algorithm"] == "logistic_regression"
    assert body["owner"] == "alice"
    assert body["status"] == "ready" and body["progress"] == 100
    assert body["classes"] == ["churned", "stayed"]
    assert body["price_per_row"] == "0.0100"
    assert {feature["name"] for feature in body["features"]} == {"x", "noise", "color"}
    color = next(feature for feature in body["features"] if feature["name"] == "color")
    assert color["kind"] == "categorical" and color["categories"] == ["blue", "green", "red"]
    assert {column["name"] for column in body["dropped_columns"]} == {"id", "constant"}
    assert body["metrics"]["accuracy"] > 0.5
    assert body["dataset"] == trained_model.dataset_id
    assert body["training_fee"] == "5.00"


def test_bob_cannot_see_or_delete_alices_private_model(bob_api, trained_model):
    assert bob_api.get(f"{URL}{trained_model.pk}/").status_code == 404
    assert bob_api.delete(f"{URL}{trained_model.pk}/").status_code == 404
    assert bob_api.patch(f"{URL}{trained_model.pk}/", {"is_public": True}, format="json").status_code == 404
    assert bob_api.get(URL).json()["count"] == 0
    trained_model.refresh_from_db()
    assert trained_model.deleted_at is None and trained_model.is_public is False


def test_the_owner_deletes_softly_and_the_artifact_goes(
    alice_api, trained_model, settings, django_capture_on_commit_callbacks
):
    artifact = Path(settings.MEDIA_ROOT) / trained_model.artifact
    assert artifact.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"{URL}{trained_model.pk}/")

    assert response.status_code == 204
    trained_model.refresh_from_db()
    assert trained_model.deleted_at is not None
    assert trained_model.is_active is False
    assert not artifact.exists()
    assert alice_api.get(f"{URL}{trained_model.pk}/").status_code == 404
    assert alice_api.get(URL).json()["count"] == 0
    assert TrainedModel.objects.filter(pk=trained_model.pk).exists()  # kept for the ledger
    assert alice_api.delete(f"{URL}{trained_model.pk}/").status_code == 404


def test_staff_can_see_and_delete_any_model(staff_api, trained_model):
    assert staff_api.get(f"{URL}{trained_model.pk}/").status_code == 200
    assert staff_api.delete(f"{URL}{trained_model.pk}/").status_code == 204
    assert TrainedModel.objects.get(pk=trained_model.pk).deleted_at is not None


def test_staff_publish_a_model_and_then_bob_sees_it(staff_api, bob_api, trained_model):
    response = staff_api.patch(
        f"{URL}{trained_model.pk}/", {"is_public": True, "price_per_row": "0.0250"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["is_public"] is True
    assert response.json()["price_per_row"] == "0.0250"
    trained_model.refresh_from_db()
    assert (trained_model.is_public, trained_model.is_active, trained_model.price_per_row) == (
        True,
        True,
        Decimal("0.0250"),
    )
    listed = bob_api.get(URL).json()
    assert [item["id"] for item in listed["results"]] == [trained_model.pk]
    assert bob_api.get(f"{URL}{trained_model.pk}/").status_code == 200
    assert bob_api.get(URL, {"mine": "true"}).json()["count"] == 0
    # Bob may see it, not change it.
    assert (
        bob_api.patch(f"{URL}{trained_model.pk}/", {"price_per_row": "0"}, format="json").status_code == 403
    )
    assert bob_api.delete(f"{URL}{trained_model.pk}/").status_code == 404


def test_the_owner_cannot_publish_or_price_their_own_model(alice_api, trained_model):
    response = alice_api.patch(f"{URL}{trained_model.pk}/", {"is_public": True}, format="json")

    assert response.status_code == 403
    assert TrainedModel.objects.get(pk=trained_model.pk).is_public is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_per_row": "0.00001"}, "price_per_row"),
        ({"price_per_row": "-1"}, "price_per_row"),
        ({"is_public": "maybe"}, "is_public"),
        ({"owner": "bob"}, "owner"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_staff_updates_are_400(staff_api, trained_model, body, field):
    response = staff_api.patch(f"{URL}{trained_model.pk}/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    trained_model.refresh_from_db()
    assert (trained_model.is_public, trained_model.price_per_row) == (False, Decimal("0.0100"))


def test_a_model_that_is_not_ready_cannot_be_published(staff_api, submit, alice, dataset):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")

    response = staff_api.patch(f"{URL}{model.pk}/", {"is_public": True}, format="json")

    assert response.status_code == 400
    assert "ready" in response.json()["errors"]["is_public"][0]


def test_setting_a_version_active_deactivates_the_others(staff_api, submit, alice, dataset):
    from mlmodels.tasks import train_model_task

    models = []
    for _ in range(2):
        model = submit(
            alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression"
        )
        train_model_task(model.pk)
        models.append(model)
    first, second = models

    response = staff_api.patch(f"{URL}{first.pk}/", {"is_active": True}, format="json")

    assert response.status_code == 200
    assert list(TrainedModel.objects.filter(is_active=True).values_list("pk", flat=True)) == [first.pk]
    response = staff_api.patch(f"{URL}{first.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200
    assert TrainedModel.objects.filter(is_active=True).count() == 0
    assert second.pk


def test_list_filters_by_status_algorithm_and_mine(
    alice_api, trained_model, submit, alice, regression_dataset
):
    queued = submit(alice, name="houses", dataset=regression_dataset.pk, target="price", algorithm="ridge")

    def ids(**params):
        return [item["id"] for item in alice_api.get(URL, params).json()["results"]]

    assert ids() == [queued.pk, trained_model.pk]
    assert ids(status="ready") == [trained_model.pk]
    assert ids(status="queued") == [queued.pk]
    assert ids(algorithm="ridge") == [queued.pk]
    assert ids(mine="true") == [queued.pk, trained_model.pk]
    assert alice_api.get(URL, {"status": "sleeping"}).status_code == 400


def test_put_is_not_allowed(staff_api, trained_model):
    assert staff_api.put(f"{URL}{trained_model.pk}/", {}, format="json").status_code == 405


def test_no_files_are_left_behind_by_a_deleted_models_training(
    alice_api, submit, alice, dataset, settings, django_capture_on_commit_callbacks
):
    from mlmodels.tasks import train_model_task

    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete(f"{URL}{model.pk}/").status_code == 204
    train_model_task(model.pk)

    assert [path for path in media_files(settings) if "models" in path.parts] == []


def test_the_list_gives_a_summary_and_one_model_gives_the_curves(alice_api, trained_model):
    trained_model.metrics = {
        **trained_model.metrics,
        "roc_curve": {"fpr": [0.0, 1.0], "tpr": [0.0, 1.0], "auc": 0.5},
        "residuals": {"predicted": [1.0], "actual": [2.0], "residual": [1.0]},
    }
    trained_model.save(update_fields=["metrics"])

    listed = next(item for item in alice_api.get(URL).json()["results"] if item["id"] == trained_model.pk)
    detail = alice_api.get(f"{URL}{trained_model.pk}/").json()

    assert "roc_curve" not in listed["metrics"] and "residuals" not in listed["metrics"]
    assert "confusion_matrix" not in listed["metrics"] and "feature_importance" not in listed["metrics"]
    assert "features" not in listed
    assert listed["metrics"]["accuracy"] == detail["metrics"]["accuracy"]
    assert listed["url"].endswith(f"{URL}{trained_model.pk}/")
    assert detail["metrics"]["roc_curve"]["auc"] == 0.5
    assert detail["metrics"]["residuals"]["residual"] == [1.0]
    assert "confusion_matrix" in detail["metrics"] and detail["features"]

"""Operators' admin screens and the demo catalog command."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.audit import billing_audit
from billing.models import LedgerEntry
from mlmodels.models import Algorithm, Dataset, TrainedModel
from mlmodels.tasks import train_model_task


@pytest.fixture
def staff_web(client, staff):
    client.force_login(staff)
    return client


def test_the_admin_lists_render(staff_web, trained_model):
    for name in ("algorithm", "dataset", "trainedmodel"):
        response = staff_web.get(reverse(f"admin:mlmodels_{name}_changelist"))
        assert response.status_code == 200, name
    assert (
        staff_web.get(reverse("admin:mlmodels_trainedmodel_change", args=[trained_model.pk])).status_code
        == 200
    )
    assert (
        staff_web.get(reverse("admin:mlmodels_dataset_change", args=[trained_model.dataset_id])).status_code
        == 200
    )


def test_operators_set_an_algorithms_price_and_switch_it_off_in_the_list(staff_web):
    algorithms = list(Algorithm.objects.order_by("task", "name"))
    data = {
        "form-TOTAL_FORMS": str(len(algorithms)),
        "form-INITIAL_FORMS": str(len(algorithms)),
        "_save": "Save",
    }
    for index, algorithm in enumerate(algorithms):
        data[f"form-{index}-id"] = str(algorithm.pk)
        data[f"form-{index}-training_price"] = (
            "7.50" if algorithm.key == "svc" else str(algorithm.training_price)
        )
        if algorithm.key != "svc":
            data[f"form-{index}-enabled"] = "on"

    response = staff_web.post(reverse("admin:mlmodels_algorithm_changelist"), data)

    assert response.status_code == 302
    svc = Algorithm.objects.get(key="svc")
    assert (svc.enabled, svc.training_price) == (False, Decimal("7.50"))
    assert Algorithm.objects.filter(enabled=True).count() == len(algorithms) - 1


def test_the_make_active_action_keeps_one_active_version(staff_web, submit, alice, dataset):
    models = []
    for _ in range(2):
        model = submit(
            alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression"
        )
        train_model_task(model.pk)
        models.append(model)

    response = staff_web.post(
        reverse("admin:mlmodels_trainedmodel_changelist"),
        {"action": "make_active", "_selected_action": [models[0].pk]},
    )

    assert response.status_code == 302
    assert list(TrainedModel.objects.filter(is_active=True).values_list("pk", flat=True)) == [models[0].pk]
    assert TrainedModel.objects.get(pk=models[0].pk).active_pinned is True


def test_publishing_in_the_change_form_goes_through_the_rules(
    staff_web, trained_model, submit, alice, dataset
):
    url = reverse("admin:mlmodels_trainedmodel_change", args=[trained_model.pk])
    # Alice's model: the operator confirms publishing another user's model.
    response = staff_web.post(
        url,
        {"is_public": "on", "price_per_row": "0.0300", "price_per_request": "0.00", "confirm_publish": "on"},
    )

    assert response.status_code == 302
    trained_model.refresh_from_db()
    assert (trained_model.is_public, trained_model.price_per_row) == (True, Decimal("0.0300"))

    queued = submit(alice, name="other", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    response = staff_web.post(
        reverse("admin:mlmodels_trainedmodel_change", args=[queued.pk]),
        {"is_public": "on", "price_per_row": "0.01", "price_per_request": "0.00", "confirm_publish": "on"},
    )
    assert response.status_code == 200
    assert "Only a ready model can be published" in response.content.decode()
    assert TrainedModel.objects.get(pk=queued.pk).is_public is False


def test_seed_demo_builds_a_free_published_catalog_and_can_run_again(db, monkeypatch, capsys):
    from mlmodels.management.commands import seed_demo

    # Smaller models than the real catalog: the same algorithms, trained in a blink.
    small = {
        "random_forest_classifier": {"n_estimators": 10},
        "catboost_regressor": {"iterations": 20, "depth": 3},
    }
    monkeypatch.setattr(
        seed_demo,
        "MODELS",
        [(*entry[:4], small.get(entry[3], entry[4]), entry[5]) for entry in seed_demo.MODELS],
    )

    call_command("seed_demo")
    call_command("seed_demo")

    output = capsys.readouterr().out
    assert "user demo: created" in output and "user demo: exists" in output
    models = TrainedModel.objects.filter(owner__username="admin").select_related("algorithm")
    assert models.count() == len(seed_demo.MODELS)
    assert {model.algorithm.key for model in models} >= {
        "logistic_regression",
        "random_forest_classifier",
        "catboost_regressor",
    }
    assert all(model.status == "ready" and model.is_public and model.is_active for model in models)
    assert len({model.price_per_row for model in models}) >= 3
    assert all(model.training_fee == 0 for model in models)
    assert not LedgerEntry.objects.filter(kind="training_fee").exists()
    breast_cancer = models.get(name="breast-cancer-logistic")
    assert breast_cancer.metrics["accuracy"] >= 0.9
    assert Dataset.objects.filter(owner__username="demo", status="ready").count() == 1
    admin = models.first().owner
    assert admin.is_staff and admin.is_superuser and admin.check_password("admin-password-123")
    assert billing_audit() == []

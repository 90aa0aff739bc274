"""Canceling a training (issue 15, item 5): the owner stops a queued or running
training, page or API, and gets the fee back at once; a running worker then stops at
its next progress report and keeps nothing; a finished model cannot be canceled; the
status card shows elapsed time, an estimate and a badge that agrees with it."""

from __future__ import annotations

from decimal import Decimal

from billing.models import LedgerEntry
from mlmodels.models import TrainedModel
from mlmodels.services import training_claim, training_execute
from tests.mlmodels.conftest import FEE, balance_of, ledger_kinds, media_files


def _queued(submit, alice, dataset) -> TrainedModel:
    model = submit(
        alice, name="churn", dataset=dataset.pk, target="label", algorithm="random_forest_classifier"
    )
    assert balance_of(alice) == Decimal("500.00") - FEE
    return model


def test_a_queued_training_is_canceled_from_the_api_and_refunded(alice_api, alice, submit, dataset):
    model = _queued(submit, alice, dataset)

    response = alice_api.post(f"/api/v1/models/{model.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    model.refresh_from_db()
    assert model.status == TrainedModel.Status.CANCELED
    assert model.finished_at is not None
    assert balance_of(alice) == Decimal("500.00")
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "refund"]


def test_a_running_training_is_canceled_and_its_worker_keeps_nothing(
    alice_api, alice, submit, dataset, settings
):
    model = _queued(submit, alice, dataset)
    assert training_claim(model_id=model.pk)

    response = alice_api.post(f"/api/v1/models/{model.pk}/cancel/")
    assert response.status_code == 200
    # The worker goes on: its first progress report finds the model no longer running.
    finished = training_execute(model_id=model.pk)

    assert finished.status == TrainedModel.Status.CANCELED
    assert finished.artifact == ""
    assert not [path for path in media_files(settings) if path.suffix in (".joblib", ".pending")]
    assert balance_of(alice) == Decimal("500.00")
    assert LedgerEntry.objects.filter(model=model, kind="refund").count() == 1


def test_a_finished_training_cannot_be_canceled(alice_api, alice, trained_model):
    response = alice_api.post(f"/api/v1/models/{trained_model.pk}/cancel/")

    assert response.status_code == 409
    assert "ready" in response.json()["detail"]
    trained_model.refresh_from_db()
    assert trained_model.status == "ready"
    assert "refund" not in ledger_kinds(alice)


def test_a_second_cancel_is_a_409_and_refunds_once(alice_api, alice, submit, dataset):
    model = _queued(submit, alice, dataset)
    assert alice_api.post(f"/api/v1/models/{model.pk}/cancel/").status_code == 200

    response = alice_api.post(f"/api/v1/models/{model.pk}/cancel/")

    assert response.status_code == 409
    assert ledger_kinds(alice).count("refund") == 1


def test_someone_elses_training_is_not_found(bob_api, alice, submit, dataset):
    model = _queued(submit, alice, dataset)

    response = bob_api.post(f"/api/v1/models/{model.pk}/cancel/")

    assert response.status_code == 404
    model.refresh_from_db()
    assert model.status == "queued"


def test_the_model_page_cancels_with_a_button_and_says_it_was_refunded(alice_web, alice, submit, dataset):
    model = _queued(submit, alice, dataset)
    page = alice_web.get(f"/models/{model.pk}/").content.decode()
    assert 'id="cancel-training"' in page

    response = alice_web.post(f"/models/{model.pk}/cancel/", follow=True)

    text = response.content.decode()
    assert "Training canceled" in text
    assert f"The fee of {FEE} coins was refunded." in text
    assert 'id="cancel-training"' not in text
    assert balance_of(alice) == Decimal("500.00")


def test_the_status_card_shows_elapsed_time_an_estimate_and_a_matching_badge(
    alice_web, alice, submit, dataset
):
    model = _queued(submit, alice, dataset)
    assert training_claim(model_id=model.pk)
    TrainedModel.objects.filter(pk=model.pk).update(stage="fitting", progress=40)

    response = alice_web.get(f"/models/{model.pk}/status/", HTTP_HX_REQUEST="true")

    text = response.content.decode()
    assert "Training: fitting" in text
    assert "Running for" in text and "left" in text
    # The header's badge is replaced out of band, so it reads "running" too.
    assert 'id="model-status-badge" hx-swap-oob="true"' in text
    assert text.split('id="model-status-badge"')[1].count("running") >= 1

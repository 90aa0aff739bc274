"""The training task and the sweep, called in-process (the round trip through a real
worker is in test_worker.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from billing.audit import billing_audit
from billing.models import LedgerEntry
from core.jobs.lifecycle import MAX_ENQUEUE_ATTEMPTS, RUNNING_GRACE_SECONDS
from mlmodels import services
from mlmodels.ml.artifacts import file_sha256, load_artifact
from mlmodels.models import Dataset, TrainedModel
from mlmodels.services import training_sweep
from mlmodels.tasks import train_model_task
from tests.mlmodels.conftest import FEE, balance_of, ledger_kinds, media_files


def model_path(settings, model: TrainedModel) -> Path:
    return Path(settings.MEDIA_ROOT) / model.artifact


def test_the_task_trains_the_model_to_ready_with_metrics_and_artifact(submit, alice, dataset, settings):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")

    train_model_task(model.pk)

    model.refresh_from_db()
    assert model.status == "ready", model.error
    assert (model.progress, model.stage, model.error) == (100, "done", "")
    assert model.started_at and model.finished_at and model.finished_at >= model.started_at
    assert 0.5 <= model.metrics["accuracy"] <= 1
    assert model.metrics["confusion_matrix"]["labels"] == ["churned", "stayed"]
    assert model.metrics["roc_curve"]["fpr"][0] == 0
    assert model.classes == ["churned", "stayed"]
    assert {feature["name"] for feature in model.features} == {"x", "noise", "color"}
    assert {column["name"] for column in model.dropped_columns} == {"id", "constant"}
    assert model.rows_used == 60 and model.rows_dropped == 0
    assert set(model.timings) >= {"read_seconds", "fit_seconds", "save_seconds", "total_seconds"}
    assert model.is_active is True
    path = model_path(settings, model)
    assert path.name == f"{model.pk}-{model.artifact_sha256[:12]}.joblib"
    assert path.parent == Path(settings.MEDIA_ROOT) / "models" / str(alice.pk)
    assert file_sha256(path) == model.artifact_sha256
    assert load_artifact(path, sha256=model.artifact_sha256).feature_schema.target == "label"
    assert "scikit-learn" in model.library_versions
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee"]


def test_a_regression_model_gets_regression_metrics(submit, alice, regression_dataset):
    model = submit(alice, name="houses", dataset=regression_dataset.pk, target="price", algorithm="ridge")

    train_model_task(model.pk)

    model.refresh_from_db()
    assert model.status == "ready", model.error
    assert model.metrics["r2"] > 0.8
    assert len(model.metrics["residuals"]["predicted"]) == model.metrics["n_test"]
    assert model.classes is None


def test_the_task_run_twice_trains_and_charges_once(submit, alice, dataset, settings):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")

    train_model_task(model.pk)
    model.refresh_from_db()
    first = (model.finished_at, model.artifact, model.artifact_sha256)
    train_model_task(model.pk)

    model.refresh_from_db()
    assert (model.finished_at, model.artifact, model.artifact_sha256) == first
    assert len([path for path in media_files(settings) if path.suffix == ".joblib"]) == 1
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee"]
    assert balance_of(alice) == Decimal("500.00") - FEE


def test_a_training_that_cannot_read_its_data_fails_and_is_refunded_once(submit, alice, dataset, settings):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    (Path(settings.MEDIA_ROOT) / dataset.file.name).unlink()

    train_model_task(model.pk)
    train_model_task(model.pk)
    services.training_fail(model_id=model.pk, error="again")  # a late sweep
    training_sweep()

    model.refresh_from_db()
    assert model.status == "failed"
    assert "missing" in model.error and "customers" in model.error
    assert model.artifact == ""
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "refund"]
    refund = LedgerEntry.objects.get(kind="refund")
    assert refund.refund_of.model == model and refund.amount == FEE
    assert balance_of(alice) == Decimal("500.00")
    assert billing_audit() == []


def test_an_engine_refusal_at_training_time_fails_with_its_message(submit, alice, dataset):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    # The request was valid when submitted; the engine judges it again when it trains.
    TrainedModel.objects.filter(pk=model.pk).update(requested_features=["x", "no_such_column"])

    train_model_task(model.pk)

    model.refresh_from_db()
    assert model.status == "failed"
    assert "there is no column 'no_such_column'" in model.error
    assert balance_of(alice) == Decimal("500.00")


def test_an_unexpected_error_is_reported_with_its_type(submit, alice, dataset, settings):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    path = Path(settings.MEDIA_ROOT) / dataset.file.name
    path.unlink()
    path.mkdir()  # reading it raises IsADirectoryError, which no rule foresees

    train_model_task(model.pk)

    model.refresh_from_db()
    assert model.status == "failed"
    assert model.error.startswith("Training failed: IsADirectoryError: ")
    assert balance_of(alice) == Decimal("500.00")
    assert billing_audit() == []


def test_the_sweep_fails_and_refunds_a_model_stuck_running(submit, alice, dataset, settings):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    assert services.training_claim(model_id=model.pk)
    long_ago = timezone.now() - timedelta(seconds=settings.TASK_TIMEOUT + RUNNING_GRACE_SECONDS + 5)
    TrainedModel.objects.filter(pk=model.pk).update(started_at=long_ago)

    result = training_sweep()
    again = training_sweep()

    model.refresh_from_db()
    assert result.failed_running == [model.pk] and again.failed_running == []
    assert model.status == "failed"
    assert "did not finish" in model.error
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "refund"]
    assert billing_audit() == []
    # The worker that was thought dead wakes up: its result is thrown away.
    services.training_execute(model_id=model.pk)
    model.refresh_from_db()
    assert model.status == "failed"
    assert [path for path in media_files(settings) if path.suffix == ".joblib"] == []


def test_the_sweep_leaves_a_recent_running_model_alone(submit, alice, dataset):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    services.training_claim(model_id=model.pk)

    assert training_sweep().as_dict() == {"failed_running": [], "requeued": [], "failed_queued": []}
    assert TrainedModel.objects.get(pk=model.pk).status == "running"


def test_the_sweep_enqueues_a_stale_queued_model_again_and_gives_up_eventually(
    submit, alice, dataset, settings
):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    stale = timezone.now() - timedelta(seconds=settings.QUEUED_STALE_SECONDS + 5)
    TrainedModel.objects.filter(pk=model.pk).update(enqueued_at=stale)

    assert training_sweep().requeued == [model.pk]
    model.refresh_from_db()
    assert model.attempts == 2 and model.enqueued_at > stale
    assert training_sweep().requeued == []  # not stale any more

    # Each further enqueue waits longer (QUEUED_STALE_SECONDS × attempts).
    long_stale = timezone.now() - timedelta(seconds=settings.QUEUED_STALE_SECONDS * MAX_ENQUEUE_ATTEMPTS + 5)
    TrainedModel.objects.filter(pk=model.pk).update(enqueued_at=long_stale, attempts=MAX_ENQUEUE_ATTEMPTS)
    assert training_sweep().failed_queued == [model.pk]
    model.refresh_from_db()
    assert model.status == "failed"
    assert balance_of(alice) == Decimal("500.00")
    # The lost message turns up after all: the claim refuses it.
    train_model_task(model.pk)
    assert TrainedModel.objects.get(pk=model.pk).status == "failed"


def test_the_newest_ready_version_becomes_active_unless_staff_chose_one(submit, alice, dataset):
    def train():
        model = submit(
            alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression"
        )
        train_model_task(model.pk)
        return model

    first = train()
    second = train()
    active = lambda: list(TrainedModel.objects.filter(is_active=True).values_list("version", flat=True))  # noqa: E731
    assert active() == [2]

    services.model_set_active(model=TrainedModel.objects.get(pk=first.pk))
    assert active() == [1]
    train()
    assert active() == [1]  # staff's choice stands
    assert TrainedModel.objects.get(pk=second.pk).is_active is False


def test_an_older_version_finishing_late_does_not_replace_a_newer_one(submit, alice, dataset):
    older = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    newer = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")

    train_model_task(newer.pk)
    train_model_task(older.pk)

    assert TrainedModel.objects.get(pk=newer.pk).is_active is True
    assert TrainedModel.objects.get(pk=older.pk).is_active is False


def test_deleting_a_queued_model_fails_it_and_refunds_the_fee(submit, alice, dataset):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")

    services.model_delete(model=model)
    train_model_task(model.pk)

    model.refresh_from_db()
    assert model.deleted_at is not None and model.status == "failed"
    assert ledger_kinds(alice) == ["signup_bonus", "training_fee", "refund"]
    assert billing_audit() == []


def test_a_deleted_dataset_fails_a_queued_training(submit, alice, dataset):
    model = submit(alice, name="churn", dataset=dataset.pk, target="label", algorithm="logistic_regression")
    services.dataset_delete(dataset=Dataset.objects.get(pk=dataset.pk))

    train_model_task(model.pk)

    model.refresh_from_db()
    assert model.status == "failed"
    assert "was deleted" in model.error
    assert model.dataset_name == "customers"


@pytest.mark.parametrize(
    "algorithm", ["random_forest_regressor", "gradient_boosting_regressor", "catboost_regressor"]
)
def test_tree_regressors_train_through_the_service(submit, alice, regression_dataset, algorithm):
    small = {"random_forest_regressor": {"n_estimators": 10}, "gradient_boosting_regressor": {"max_iter": 20}}
    small["catboost_regressor"] = {"iterations": 20, "depth": 3}
    model = submit(
        alice,
        name=algorithm,
        dataset=regression_dataset.pk,
        target="price",
        algorithm=algorithm,
        hyperparameters=small[algorithm],
    )

    train_model_task(model.pk)

    model.refresh_from_db()
    assert model.status == "ready", model.error
    assert model.metrics["r2"] > 0.5


def test_the_sweep_profiles_again_a_dataset_whose_task_was_lost(
    alice, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from mlmodels import services
    from mlmodels.models import Dataset
    from tests.mlmodels.conftest import classification_csv, upload_file

    settings.QUEUED_STALE_SECONDS = 60
    services.dataset_upload(
        user=alice, file=upload_file(classification_csv()), name="fresh", enqueue_profile=False
    )
    lost = services.dataset_upload(
        user=alice, file=upload_file(classification_csv()), name="lost", enqueue_profile=False
    )
    ancient = services.dataset_upload(
        user=alice, file=upload_file(classification_csv()), name="old", enqueue_profile=False
    )
    now = timezone.now()
    Dataset.objects.filter(pk=lost.pk).update(created_at=now - timedelta(seconds=120))
    # Enqueued the most times the one sweep policy allows, and stale for as long.
    Dataset.objects.filter(pk=ancient.pk).update(
        created_at=now - timedelta(seconds=settings.QUEUED_STALE_SECONDS * MAX_ENQUEUE_ATTEMPTS + 1),
        attempts=MAX_ENQUEUE_ATTEMPTS,
    )

    with django_capture_on_commit_callbacks() as callbacks:
        result = services.dataset_profile_sweep(now=now)

    assert result.as_dict() == {"failed_running": [], "requeued": [lost.pk], "failed_queued": [ancient.pk]}
    enqueues = [callback for callback in callbacks if "enqueue_on_commit" in callback.__qualname__]
    assert len(enqueues) == 1
    statuses = dict(Dataset.objects.values_list("name", "status"))
    assert statuses == {"fresh": "profiling", "lost": "profiling", "old": "failed"}
    # The re-enqueued task profiles it; a second run changes nothing.
    assert services.dataset_profile(dataset_id=lost.pk).status == "ready"
    assert services.dataset_profile(dataset_id=lost.pk) is None

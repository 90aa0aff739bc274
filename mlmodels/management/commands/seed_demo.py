"""A demo catalog a newcomer can predict with at once.

Creates the users ``admin`` (staff) and ``demo``, datasets generated from
scikit-learn's bundled data, and published models trained on them. Idempotent: what
exists already is kept (and re-published at the listed price), so running it again
is safe and fast.

The demo models are operator models and cost nobody anything: they are submitted
through the same service as every training but with ``charge=False`` (fee 0, no
ledger entry) and ``enqueue=False``, and trained synchronously here through the same
claim/execute path the worker task uses — so the command ends with the models ready,
whether or not a worker is running.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import user_register
from core.errors import ServiceError
from mlmodels import services
from mlmodels.ml.samples import SAMPLES
from mlmodels.models import Dataset, TrainedModel

User = get_user_model()

USERS = [
    # username, password, staff
    ("admin", "admin-password-123", True),
    ("demo", "demo-password-123", False),
]


# owner, sample key (mlmodels.ml.samples: the table, its name, what each column means)
DATASETS = [
    ("admin", "breast_cancer"),
    ("admin", "diabetes"),
    ("admin", "iris"),
    ("demo", "wine"),
]

# name, dataset name, target, algorithm, hyperparameters, price per row
MODELS = [
    (
        "breast-cancer-logistic",
        "Breast cancer (demo)",
        "diagnosis",
        "logistic_regression",
        {"C": 1.0},
        Decimal("0.01"),
    ),
    (
        "breast-cancer-forest",
        "Breast cancer (demo)",
        "diagnosis",
        "random_forest_classifier",
        {"n_estimators": 100},
        Decimal("0.02"),
    ),
    (
        "diabetes-catboost",
        "Diabetes progression (demo)",
        "progression",
        "catboost_regressor",
        {"iterations": 150, "depth": 4},
        Decimal("0.05"),
    ),
    ("iris-svm", "Iris flowers (demo)", "species", "svc", {"C": 1.0, "kernel": "rbf"}, Decimal("0.01")),
]


class Command(BaseCommand):
    help = "Create demo users, datasets and a published model catalog (safe to run again)."

    def handle(self, *args, **options):
        users = {username: self._user(username, password, staff) for username, password, staff in USERS}
        datasets: dict[str, Dataset] = {}
        for owner, key in DATASETS:
            name = SAMPLES[key].name
            datasets[name] = self._dataset(users[owner], name, key)
        for name, dataset_name, target, algorithm, hyperparameters, price in MODELS:
            self._model(
                users["admin"], name, datasets[dataset_name], target, algorithm, hyperparameters, price
            )
        self.stdout.write(
            self.style.SUCCESS(
                "Demo ready. Log in as demo / demo-password-123 (or admin / admin-password-123 for the admin)."
            )
        )

    def _user(self, username: str, password: str, staff: bool):
        user = User.objects.filter(username=username).first()
        if user is None:
            try:
                user = user_register(username=username, password=password, email=f"{username}@example.com")
            except ServiceError as error:
                raise CommandError(f"cannot create {username}: {error.detail} {error.errors}") from None
            self.stdout.write(f"user {username}: created (password {password})")
        else:
            self.stdout.write(f"user {username}: exists, left as is")
        if staff and not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        return user

    def _dataset(self, owner, name: str, key: str) -> Dataset:
        dataset = Dataset.objects.filter(owner=owner, name=name).exclude(status=Dataset.Status.FAILED).first()
        if dataset is None:
            dataset = services.dataset_upload_sample(user=owner, key=key, name=name, enqueue_profile=False)
            action = "created"
        else:
            action = "exists"
        if dataset.status == Dataset.Status.PROFILING:
            dataset = services.dataset_profile(dataset_id=dataset.pk) or dataset
        self.stdout.write(
            f"dataset “{name}” of {owner.username}: {action}, {dataset.rows} rows, "
            f"{len(dataset.columns)} columns, {dataset.status}"
        )
        return dataset

    def _model(self, admin, name, dataset, target, algorithm, hyperparameters, price) -> None:
        model = (
            TrainedModel.objects.filter(
                owner=admin, name=name, status=TrainedModel.Status.READY, deleted_at__isnull=True
            )
            .order_by("-version")
            .first()
        )
        action = "exists"
        if model is None:
            try:
                request = services.training_validate(
                    user=admin,
                    name=name,
                    dataset=dataset.pk,
                    target=target,
                    algorithm=algorithm,
                    hyperparameters=hyperparameters,
                )
            except ServiceError as error:
                self.stderr.write(f"model {name}: skipped, {error.detail}")
                return
            model = services.model_submit(user=admin, request=request, charge=False, enqueue=False)
            services.training_claim(model_id=model.pk)
            model = services.training_execute(model_id=model.pk)
            if model.status != TrainedModel.Status.READY:
                self.stderr.write(f"model {name}: training failed: {model.error}")
                return
            action = f"trained in {model.timings.get('total_seconds', 0):.1f} s"
        model = services.model_update_by_staff(model=model, is_public=True, price_per_row=price)
        metrics = model.metrics
        score = (
            f"accuracy {metrics.get('accuracy'):.3f}"
            if model.task == "classification"
            else f"R² {metrics.get('r2'):.3f}"
        )
        self.stdout.write(
            f"model {model} ({model.algorithm.name}): {action}, {score}, published at {model.price_per_row} per row"
        )

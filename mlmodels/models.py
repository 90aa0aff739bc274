from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models import COINS
from mlmodels.ml import encodings, targets

DESCRIPTION_MAX_LENGTH = 500
MODEL_CARD_MAX_LENGTH = 20_000


class Dataset(models.Model):
    class Status(models.TextChoices):
        PROFILING = "profiling", "Profiling"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    token = models.CharField(max_length=32, help_text="Random part of the stored file name.")
    # Named by mlmodels.datasets when it stores the upload (datasets/<owner>/<token>.csv).
    file = models.FileField(upload_to="datasets/", max_length=300)
    original_filename = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    # [{"name", "kind", "missing"}] as inferred at upload.
    columns = models.JSONField(default=list)
    encoding = models.CharField(max_length=32, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    notes = models.JSONField(
        default=list, blank=True, help_text="Things worth knowing about the file, e.g. its encoding."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROFILING)
    profile = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The profile job (core.jobs): the dataset stays "profiling" while queued and
    # while running; started_at tells the two apart.
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times the profile job was enqueued.")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def column_names(self) -> list[str]:
        return [column["name"] for column in self.columns]

    @property
    def encoding_label(self) -> str:
        return encodings.encoding_label(self.encoding) if self.encoding else ""

    @property
    def delimiter_name(self) -> str:
        names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
        return names.get(self.delimiter, repr(self.delimiter))


class Algorithm(models.Model):
    """The database side of the code catalog (mlmodels.ml.catalog): operators enable
    algorithms and set their training price here; the hyperparameter schema stays in
    code. Kept in step by mlmodels.services.algorithm_sync."""

    class Task(models.TextChoices):
        CLASSIFICATION = "classification", "Classification"
        REGRESSION = "regression", "Regression"

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    # Empty for the rows that label imported models (mlmodels.services.imports): they
    # are of either task and never trained here.
    task = models.CharField(max_length=16, choices=Task.choices, blank=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    training_price = models.DecimalField(**COINS, default=Decimal("5.00"))
    in_catalog = models.BooleanField(default=True, help_text="False when the code no longer offers it.")

    class Meta:
        ordering = ["task", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(training_price__gte=0), name="algorithm_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class TrainedModel(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        # Stopped by its owner while queued or running; the fee is refunded.
        CANCELED = "canceled", "Canceled"

    class Source(models.TextChoices):
        TRAINED = "trained", "Trained here"
        IMPORTED = "imported", "Imported"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trained_models"
    )
    # An imported model (mlmodels.services.imports) runs the same job as a training:
    # queued → running (loaded and checked on its sample rows) → ready | failed.
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.TRAINED)
    # The file sent for import, under MEDIA_ROOT, until the job has checked it.
    import_upload = models.CharField(max_length=300, blank=True)
    import_sample = models.JSONField(
        null=True, blank=True, help_text="Imported: the rows the model was checked on."
    )
    name = models.CharField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    dataset = models.ForeignKey(
        Dataset, on_delete=models.SET_NULL, null=True, blank=True, related_name="trained_models"
    )
    dataset_name = models.CharField(max_length=200, blank=True)
    algorithm = models.ForeignKey(Algorithm, on_delete=models.PROTECT, related_name="trained_models")
    task = models.CharField(max_length=16, choices=Algorithm.Task.choices)
    target = models.CharField(max_length=255)
    requested_features = models.JSONField(null=True, blank=True)
    hyperparameters = models.JSONField(default=dict)
    test_size = models.FloatField(default=targets.DEFAULT_TEST_SIZE)
    random_state = models.IntegerField(default=targets.DEFAULT_RANDOM_STATE)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    # The sweep enqueues a job again when it has sat in the queue too long (a broker
    # without delivery receipts can lose it); these say when and how often.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times the job was enqueued.")

    metrics = models.JSONField(default=dict, blank=True)
    feature_schema = models.JSONField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    rows_used = models.PositiveIntegerField(null=True, blank=True)
    rows_dropped = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rows dropped for a missing target."
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text="Things the trainer noticed, e.g. no convergence."
    )
    artifact = models.CharField(max_length=300, blank=True, help_text="Path under MEDIA_ROOT.")
    artifact_sha256 = models.CharField(max_length=64, blank=True)
    artifact_size = models.BigIntegerField(null=True, blank=True)
    library_versions = models.JSONField(default=dict, blank=True)

    training_fee = models.DecimalField(**COINS, default=Decimal("0.00"))
    # Prices per row may be fractions of a cent; a prediction's cost is rounded up to 0.01.
    price_per_row = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("0.01"))
    # A flat part of every prediction's cost (billing.services.cost_quote).
    price_per_request = models.DecimalField(**COINS, default=Decimal("0.00"))
    description = models.CharField(
        max_length=DESCRIPTION_MAX_LENGTH, blank=True, help_text="One or two plain sentences for the catalog."
    )
    model_card = models.TextField(
        blank=True, help_text="Markdown, shown on the model page after sanitising (core.markdown)."
    )
    is_public = models.BooleanField(default=False, help_text="Listed in the public catalog for every user.")
    is_active = models.BooleanField(
        default=True, help_text="The version predictions may use; one per owner and name."
    )
    # When its owner or staff chose the active version (or staff published it), a newer
    # version that becomes ready does not take its place: see
    # mlmodels.services.training_job. (Called active_set_by_staff before owners could
    # choose; migration 0004 renamed it and kept its values.)
    active_pinned = models.BooleanField(
        default=False,
        help_text="Chosen by its owner or staff: newer versions do not replace it automatically.",
    )
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted by its owner; kept for the ledger."
    )
    # Set when the model came out of an experiment: its winner, or a trial promoted.
    experiment = models.ForeignKey(
        "Experiment", on_delete=models.SET_NULL, null=True, blank=True, related_name="models"
    )
    experiment_trial = models.PositiveIntegerField(null=True, blank=True)
    # Folds of the optional cross-validation on the training part (None: not asked).
    cv_folds = models.PositiveSmallIntegerField(null=True, blank=True)
    # The served model is refit on every row once the holdout metrics are measured.
    refit_full = models.BooleanField(default=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "is_public", "is_active"])]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name", "version"], name="model_version_unique"),
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(is_active=True, deleted_at__isnull=True),
                name="model_one_active_version",
            ),
            models.CheckConstraint(condition=Q(price_per_row__gte=0), name="model_price_not_negative"),
            models.CheckConstraint(
                condition=Q(price_per_request__gte=0), name="model_price_per_request_not_negative"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="model_progress_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.READY, self.Status.FAILED, self.Status.CANCELED)

    @property
    def classes(self) -> list | None:
        return (self.feature_schema or {}).get("classes")

    @property
    def features(self) -> list[dict]:
        return (self.feature_schema or {}).get("features", [])

    @property
    def dropped_columns(self) -> list[dict]:
        return (self.feature_schema or {}).get("dropped", [])

    @property
    def metrics_source(self) -> str:
        """One sentence on where the metrics come from, for the page and the API."""
        n_train, n_test = (self.metrics or {}).get("n_train"), (self.metrics or {}).get("n_test")
        if n_train is None or n_test is None:
            return ""
        held_out = f"Metrics are measured on {n_test} held-out rows by a model fit on the other {n_train}"
        if self.refit_full:
            return f"{held_out}; the model that serves predictions was then refit on all {n_train + n_test} rows."
        return f"{held_out}; that model serves predictions."


class ExperimentSettings(models.Model):
    """Operator settings of experiments (one row, edited in the admin)."""

    price_per_trial = models.DecimalField(
        **COINS,
        null=True,
        blank=True,
        help_text="Coins per trial; empty: the cheapest enabled algorithm's training price.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "experiment settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(price_per_trial__isnull=True) | Q(price_per_trial__gte=0),
                name="experiment_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return "Experiment settings"


class ModelImportSettings(models.Model):
    """Operator settings of model imports (one row, edited in the admin), as
    ExperimentSettings holds the price of a trial."""

    import_fee = models.DecimalField(
        **COINS,
        null=True,
        blank=True,
        help_text="Coins charged per imported model; empty: the cheapest enabled algorithm's training price.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "model import settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(import_fee__isnull=True) | Q(import_fee__gte=0),
                name="model_import_fee_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return "Model import settings"


class Experiment(models.Model):
    """A search for the best model of a dataset and target (core.jobs kind
    "experiment"): trials of the chosen algorithms, cross-validated on the training
    part, then the winner trained as a model version. Charged for ``max_trials`` up
    front; the trials not run are refunded in one entry when it ends."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="experiments")
    name = models.CharField(max_length=100, help_text="The name the winning model gets.")
    dataset = models.ForeignKey(
        Dataset, on_delete=models.SET_NULL, null=True, blank=True, related_name="experiments"
    )
    dataset_name = models.CharField(max_length=200, blank=True)
    target = models.CharField(max_length=255)
    task = models.CharField(max_length=16, choices=Algorithm.Task.choices)
    algorithms = models.JSONField(default=list, help_text="Algorithm keys, in the order they are tried.")
    metric = models.CharField(max_length=32)
    max_trials = models.PositiveIntegerField()
    time_budget_seconds = models.PositiveIntegerField()
    cv_folds = models.PositiveSmallIntegerField()
    random_state = models.IntegerField(default=targets.DEFAULT_RANDOM_STATE)
    test_size = models.FloatField(default=targets.DEFAULT_TEST_SIZE)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    stage = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times the job was enqueued.")
    cancel_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="The owner asked to stop; the worker stops after the current trial."
    )

    trials_done = models.PositiveIntegerField(default=0, help_text="Trials run (complete, pruned or failed).")
    best_score = models.FloatField(null=True, blank=True)
    best_trial = models.PositiveIntegerField(null=True, blank=True)
    best_model = models.ForeignKey(
        "TrainedModel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stopped_because = models.CharField(max_length=32, blank=True)
    search_seconds = models.FloatField(null=True, blank=True)

    price_per_trial = models.DecimalField(**COINS, default=Decimal("0.00"))
    cost = models.DecimalField(
        **COINS, default=Decimal("0.00"), help_text="Charged up front: price × max_trials."
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="experiment_progress_at_most_100"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="experiment_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"experiment #{self.pk} ({self.dataset_name} → {self.target})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELED)

    @property
    def trials_not_run(self) -> int:
        return max(self.max_trials - self.trials_done, 0)


class ExperimentTrial(models.Model):
    """One row of an experiment's leaderboard."""

    class State(models.TextChoices):
        COMPLETE = "complete", "Complete"
        PRUNED = "pruned", "Pruned"
        FAILED = "failed", "Failed"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="trials")
    number = models.PositiveIntegerField()
    algorithm = models.CharField(max_length=64)
    hyperparameters = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices)
    cv_mean = models.FloatField(null=True, blank=True)
    cv_std = models.FloatField(null=True, blank=True)
    # Every metric measured: {"roc_auc": {"mean", "std"}, "accuracy": {...}, ...}.
    scores = models.JSONField(default=dict, blank=True)
    fit_seconds = models.FloatField(default=0)
    rows = models.PositiveIntegerField(default=0, help_text="Rows the trial was evaluated on.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["experiment", "number"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "number"], name="experiment_trial_unique"),
        ]

    def __str__(self) -> str:
        return f"trial {self.number} of experiment #{self.experiment_id}"

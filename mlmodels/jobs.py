"""The job kinds of this app (core.jobs): profiling a dataset and training a model."""

from billing.services import job_refund
from core.jobs.kinds import LONG_BUCKETS, JobCounts, JobKind, register
from mlmodels.models import Dataset, TrainedModel

DATASET_PROFILE = register(
    JobKind(
        name="dataset_profile",
        model_label="mlmodels.Dataset",
        task="mlmodels.tasks.dataset_profile_task",
        noun="profile of dataset #{id}",
        # A dataset reads "profiling" from upload until its profile is done.
        queued=Dataset.Status.PROFILING,
        running=Dataset.Status.PROFILING,
        succeeded=Dataset.Status.READY,
        failed=Dataset.Status.FAILED,
        stuck_message="Profiling never finished (no result after {minutes} minutes); upload the file again.",
        never_started_message="Profiling never started after {attempts} attempts; upload the file again.",
    )
)

TRAINING = register(
    JobKind(
        name="training",
        model_label="mlmodels.TrainedModel",
        task="mlmodels.tasks.train_model_task",
        noun="training of model #{id}",
        queued=TrainedModel.Status.QUEUED,
        running=TrainedModel.Status.RUNNING,
        succeeded=TrainedModel.Status.READY,
        failed=TrainedModel.Status.FAILED,
        # A deleted model is neither trained nor made ready.
        live={"deleted_at__isnull": True},
        refund=lambda job_id, memo: job_refund(job_field="model", job_id=job_id, memo=memo),
        # /metrics: trainings by algorithm; a training takes seconds to hours.
        counts=JobCounts(labels={"algorithm": "algorithm__key"}, duration_buckets=LONG_BUCKETS),
        stuck_message=(
            "Training did not finish within {minutes} minutes (it took too long or its worker stopped); "
            "the fee was refunded."
        ),
        never_started_message="Training never started after {attempts} attempts; the fee was refunded.",
    )
)

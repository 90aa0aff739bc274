"""The job kinds of this app (core.jobs): profiling a dataset, training a model and
searching for the best model (an experiment)."""

from billing.services import job_refund
from core.jobs.kinds import LONG_BUCKETS, JobCounts, JobKind, register
from mlmodels.models import Dataset, Experiment, TrainedModel
from webhooks.models import Resource
from webhooks.services import webhook_job_event

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
        # Its owner may stop it queued or running (mlmodels.services.training.model_cancel).
        canceled=TrainedModel.Status.CANCELED,
        # A deleted model is neither trained nor made ready.
        live={"deleted_at__isnull": True},
        refund=lambda job_id, memo: job_refund(job_field="model", job_id=job_id, memo=memo),
        # /metrics: trainings by algorithm; a training takes seconds to hours.
        counts=JobCounts(labels={"algorithm": "algorithm__key"}, duration_buckets=LONG_BUCKETS),
        on_event=lambda job_id, event: webhook_job_event(resource=Resource.MODEL, job_id=job_id, event=event),
        stuck_message=(
            "Training did not finish within {minutes} minutes (it took too long or its worker stopped); "
            "the fee was refunded."
        ),
        never_started_message="Training never started after {attempts} attempts; the fee was refunded.",
    )
)

EXPERIMENT = register(
    JobKind(
        name="experiment",
        model_label="mlmodels.Experiment",
        task="mlmodels.tasks.experiment_task",
        noun="experiment #{id}",
        canceled=Experiment.Status.CANCELED,
        # Gives back the trials not run (all of them when it never started).
        refund=lambda job_id, memo: experiment_refund_unused(experiment_id=job_id, memo=memo),
        # /metrics: experiments by task; one runs for up to an hour.
        counts=JobCounts(labels={"task": "task"}, duration_buckets=LONG_BUCKETS),
        on_event=lambda job_id, event: webhook_job_event(
            resource=Resource.EXPERIMENT, job_id=job_id, event=event
        ),
        stuck_message=(
            "The experiment did not finish within {minutes} minutes (its worker stopped); "
            "the trials not run were refunded."
        ),
        never_started_message="The experiment never started after {attempts} attempts; it was refunded.",
    )
)


def experiment_refund_unused(*, experiment_id: int, memo: str):
    """Refund the trials an experiment did not run, in one entry (at most once)."""
    experiment = Experiment.objects.get(pk=experiment_id)
    unused = experiment.price_per_trial * experiment.trials_not_run
    return job_refund(job_field="experiment", job_id=experiment_id, memo=memo, amount=unused)

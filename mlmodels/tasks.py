"""django-q tasks. Each receives an id, never an object, and is safe to run twice:
the claim (core.jobs.lifecycle) is the guard, so a second delivery finds the job
running or finished and does nothing."""

from __future__ import annotations

from core.jobs.fairness import defer_for_fairness
from core.jobs.limits import job_memory_limit
from core.logs import current_task_id
from mlmodels import services
from mlmodels.jobs import DATASET_PROFILE, EXPERIMENT, TRAINING
from mlmodels.services import tracking


def dataset_profile_task(dataset_id: int) -> None:
    if defer_for_fairness(DATASET_PROFILE, dataset_id):
        return
    with job_memory_limit():
        services.dataset_profile(dataset_id=dataset_id, task_id=current_task_id())


def train_model_task(model_id: int) -> None:
    if defer_for_fairness(TRAINING, model_id):
        return
    if services.training_claim(model_id=model_id, task_id=current_task_id()):
        with job_memory_limit():
            # An imported model is checked, not trained: the same job, other work.
            if services.model_is_imported(model_id=model_id):
                services.import_execute(model_id=model_id)
            else:
                services.training_execute(model_id=model_id)


def experiment_task(experiment_id: int) -> None:
    if defer_for_fairness(EXPERIMENT, experiment_id):
        return
    if services.experiment_claim(experiment_id=experiment_id, task_id=current_task_id()):
        with job_memory_limit():
            services.experiment_execute(experiment_id=experiment_id)


def track_model_task(model_id: int) -> None:
    """Log a ready model to MLflow (MLFLOW_TRACKING_URI); never raises."""
    tracking.tracking_log_model(model_id=model_id)


def track_experiment_task(experiment_id: int) -> None:
    """Log a succeeded experiment and its trials to MLflow; never raises."""
    tracking.tracking_log_experiment(experiment_id=experiment_id)

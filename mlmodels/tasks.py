"""django-q tasks. Each receives an id, never an object, and is safe to run twice:
the services it calls move a job only by conditional UPDATEs."""

from __future__ import annotations

from mlmodels import services


def dataset_profile_task(dataset_id: int) -> None:
    services.dataset_profile(dataset_id=dataset_id)


def train_model_task(model_id: int) -> None:
    # The claim (queued → running) is the guard: a second delivery finds the model
    # running or finished and returns without training or charging again.
    if services.model_training_claim(model_id=model_id):
        services.model_training_execute(model_id=model_id)


def training_sweep() -> dict[str, list[int]]:
    """Scheduled: fail and refund stuck training jobs, re-enqueue lost ones."""
    return services.model_training_sweep()


def dataset_sweep() -> dict[str, list[int]]:
    """Scheduled: profile again datasets whose profile task was lost."""
    return services.dataset_profile_sweep()

"""Scheduled housekeeping that spans apps (see the setup_schedules command)."""

import logging

from core.idempotency import idempotency_keys_expire
from mlmodels.services import dataset_profile_sweep, experiment_sweep, training_sweep
from predictions.services import prediction_files_expire, prediction_sweep

logger = logging.getLogger(__name__)


def sweep_jobs() -> dict:
    """Fail and refund jobs stuck in ``running``; enqueue again jobs whose task was lost
    while ``queued`` (core.jobs.lifecycle.job_sweep, the same policy for every kind);
    delete expired prediction files and Idempotency-Keys. Every part is idempotent, so
    overlapping runs are harmless."""
    result = {
        "datasets": dataset_profile_sweep().as_dict(),
        "training": training_sweep().as_dict(),
        "experiments": experiment_sweep().as_dict(),
        "predictions": {**prediction_sweep().as_dict(), "files_deleted": prediction_files_expire()},
        "idempotency_keys_deleted": idempotency_keys_expire(),
    }
    logger.info("sweep: %s", result)
    return result

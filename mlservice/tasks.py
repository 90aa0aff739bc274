"""Scheduled housekeeping that spans apps."""

import logging

logger = logging.getLogger(__name__)


def sweep_jobs() -> dict:
    """Fail and refund jobs stuck in ``running``; enqueue again jobs whose task was lost
    while ``queued``. Each app's sweep is idempotent, so overlapping runs are harmless."""
    from mlmodels.tasks import dataset_sweep, training_sweep
    from predictions.tasks import prediction_sweep

    result = {
        "datasets": dataset_sweep(),
        "training": training_sweep(),
        "predictions": prediction_sweep(),
    }
    logger.info("sweep: %s", result)
    return result

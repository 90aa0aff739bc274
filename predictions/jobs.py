"""The prediction job kind (core.jobs): its task, its statuses, its refund and its webhooks."""

from billing.services import job_refund
from core.jobs.kinds import JobCounts, JobKind, register
from predictions.models import Prediction
from webhooks.models import Resource
from webhooks.services import webhook_job_event

PREDICTION = register(
    JobKind(
        name="prediction",
        model_label="predictions.Prediction",
        task="predictions.tasks.run_prediction",
        noun="prediction #{id}",
        queued=Prediction.Status.QUEUED,
        running=Prediction.Status.RUNNING,
        succeeded=Prediction.Status.SUCCEEDED,
        failed=Prediction.Status.FAILED,
        canceled=Prediction.Status.CANCELED,
        refund=lambda job_id, memo: job_refund(job_field="prediction", job_id=job_id, memo=memo),
        # /metrics: predictions by model, rows scored by the ones that succeeded.
        counts=JobCounts(labels={"model": "model_id"}, success_totals={"rows": "rows"}),
        on_event=lambda job_id, event: webhook_job_event(
            resource=Resource.PREDICTION, job_id=job_id, event=event
        ),
        stuck_message=(
            "The worker scoring this prediction stopped responding (no result after {minutes} minutes). "
            "The cost was refunded; please submit it again."
        ),
        never_started_message=(
            "No worker started this prediction in time (the service may be overloaded). "
            "The cost was refunded; please submit it again."
        ),
    )
)

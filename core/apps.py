from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer: errors, the job lifecycle, logs, API plumbing, counters. It
    imports no other app of the project."""

    name = "core"
    verbose_name = "core"

    def ready(self):
        from core import job_events

        # Job events in the logs (enqueued / started / finished) for every task.
        job_events.connect()

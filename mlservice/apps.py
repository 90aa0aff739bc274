from django.apps import AppConfig


class MlserviceConfig(AppConfig):
    name = "mlservice"
    verbose_name = "mlservice"

    def ready(self):
        from mlservice import job_events

        # Job events in the logs (enqueued / started / finished) for every task.
        job_events.connect()

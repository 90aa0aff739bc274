from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self) -> None:
        from predictions import (
            jobs,  # noqa: F401  registers the job kind
            webhook_body,
        )

        webhook_body.register()

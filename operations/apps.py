from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Reads across the apps: /metrics, /healthz, the dashboards, the sweep schedule."""

    name = "operations"
    verbose_name = "operations"

from django.apps import AppConfig


def _worker_report(sender=None, **kwargs) -> None:
    from monitoring.processes import process_report

    process_report(role="worker", force=kwargs.get("task") is None)


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Model monitoring"

    def ready(self) -> None:
        from django_q.signals import post_execute_in_worker, post_spawn

        # A worker process reports its CPU and memory when it starts and after each task.
        post_spawn.connect(_worker_report, dispatch_uid="monitoring.worker_spawned")
        post_execute_in_worker.connect(_worker_report, dispatch_uid="monitoring.worker_task")

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_algorithms(sender, using="default", **kwargs) -> None:
    # After every migrate (and every test-database flush), the Algorithm table matches
    # the code catalog. The sync only adds and describes; it never touches operator
    # choices, so running it again is harmless.
    from django.db import connections

    from mlmodels.models import Algorithm
    from mlmodels.services import algorithm_sync

    if using != "default" or Algorithm._meta.db_table not in connections[using].introspection.table_names():
        return  # another database, or mlmodels migrated back to zero
    algorithm_sync()


class MlmodelsConfig(AppConfig):
    name = "mlmodels"
    verbose_name = "Models and datasets"

    def ready(self) -> None:
        from mlmodels import (
            jobs,  # noqa: F401  registers the job kinds
            webhook_bodies,
        )

        webhook_bodies.register()

        post_migrate.connect(_sync_algorithms, sender=self, dispatch_uid="mlmodels.sync_algorithms")

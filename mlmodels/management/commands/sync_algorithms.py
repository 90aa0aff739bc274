from django.core.management.base import BaseCommand

from mlmodels.services import algorithm_sync


class Command(BaseCommand):
    help = "Bring the Algorithm table in step with the code catalog (keeps enabled and training_price)."

    def handle(self, *args, **options):
        result = algorithm_sync()
        for label in ("created", "updated", "removed"):
            keys = result[label]
            self.stdout.write(f"{label}: {', '.join(keys) if keys else '—'}")
        self.stdout.write(self.style.SUCCESS("Algorithms are in step with the catalog."))

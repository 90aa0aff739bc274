from django.conf import settings
from django.core.management.base import BaseCommand
from django_q.models import Schedule

SCHEDULES = [
    {
        "name": "sweep-stuck-jobs",
        "func": "operations.tasks.sweep_jobs",
        "schedule_type": Schedule.MINUTES,
        "minutes_setting": "SWEEP_INTERVAL_MINUTES",
    },
    {
        # Webhook retries fall due 30 s to 40 min apart: checked every minute.
        "name": "deliver-due-webhooks",
        "func": "webhooks.tasks.deliver_due_webhooks",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
    },
]


class Command(BaseCommand):
    help = "Create or update the periodic tasks (idempotent: run it on every deploy)."

    def handle(self, *args, **options):
        for spec in SCHEDULES:
            schedule, created = Schedule.objects.update_or_create(
                name=spec["name"],
                defaults={
                    "func": spec["func"],
                    "schedule_type": spec["schedule_type"],
                    "minutes": spec.get("minutes") or getattr(settings, spec["minutes_setting"]),
                    "repeats": -1,
                },
            )
            self.stdout.write(
                f"{'created' if created else 'updated'} schedule {schedule.name}: {schedule.func} every {schedule.minutes} min"
            )

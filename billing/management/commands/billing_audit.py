from django.core.management.base import BaseCommand, CommandError

from billing.audit import billing_audit
from billing.models import CoinAccount, LedgerEntry


class Command(BaseCommand):
    help = "Check that every balance equals the sum of its ledger entries and no job is charged or refunded twice."

    def handle(self, *args, **options):
        problems = billing_audit()
        if problems:
            for problem in problems:
                self.stderr.write(f"MISMATCH: {problem}")
            raise CommandError(f"billing audit found {len(problems)} problem(s)")
        self.stdout.write(
            f"billing audit clean: {CoinAccount.objects.count()} accounts, "
            f"{LedgerEntry.objects.count()} ledger entries"
        )

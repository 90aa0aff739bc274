# The Idempotency-Key store moved to the base layer (core.IdempotencyKey); core's 0001
# copied the rows, so the old table goes.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(name="IdempotencyKey"),
    ]

# The base layer's tables: the shared counters (formerly the mlservice app's) and the
# Idempotency-Key store (formerly billing's). Rows of an existing installation are
# copied over; billing's 0002 then drops its old table.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

COPIES = {
    # new table: (old table, columns)
    "core_servicecounter": ("mlservice_servicecounter", ["name", "value"]),
    "core_idempotencykey": (
        "billing_idempotencykey",
        ["id", "user_id", "scope", "key", "fingerprint", "response_status", "response_body", "created_at"],
    ),
}


def copy_old_rows(apps, schema_editor):
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    quote = schema_editor.quote_name
    for new, (old, columns) in COPIES.items():
        if old not in existing:
            continue
        names = ", ".join(quote(column) for column in columns)
        schema_editor.execute(f"INSERT INTO {quote(new)} ({names}) SELECT {names} FROM {quote(old)}")
    if "billing_idempotencykey" in existing and connection.vendor == "postgresql":
        # Copied ids keep their values: move the sequence past them.
        schema_editor.execute(
            "SELECT setval(pg_get_serial_sequence('core_idempotencykey', 'id'), "
            "COALESCE((SELECT MAX(id) FROM core_idempotencykey), 0) + 1, false)"
        )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ServiceCounter",
            fields=[
                ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="IdempotencyKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("scope", models.CharField(max_length=32)),
                ("key", models.CharField(max_length=255)),
                ("fingerprint", models.CharField(help_text="SHA-256 of the request body.", max_length=64)),
                ("response_status", models.PositiveSmallIntegerField(null=True)),
                ("response_body", models.JSONField(null=True)),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("user", "scope", "key"), name="core_idempotency_key_unique")
                ],
            },
        ),
        migrations.RunPython(copy_old_rows, migrations.RunPython.noop),
    ]

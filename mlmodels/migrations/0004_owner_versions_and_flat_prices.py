from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    """Owners run their versions (issue 14, item 5) and flat prices (item 6).

    ``active_set_by_staff`` becomes ``active_pinned``: a rename, so every version that
    staff chose or published keeps its pin; owners now set it too."""

    dependencies = [
        ("mlmodels", "0003_experiments"),
    ]

    operations = [
        migrations.RenameField(
            model_name="trainedmodel",
            old_name="active_set_by_staff",
            new_name="active_pinned",
        ),
        migrations.AlterField(
            model_name="trainedmodel",
            name="active_pinned",
            field=models.BooleanField(
                default=False,
                help_text="Chosen by its owner or staff: newer versions do not replace it automatically.",
            ),
        ),
        migrations.AddField(
            model_name="trainedmodel",
            name="price_per_request",
            field=models.DecimalField(decimal_places=2, default=Decimal("0.00"), max_digits=14),
        ),
        migrations.AddField(
            model_name="trainedmodel",
            name="description",
            field=models.CharField(
                blank=True, help_text="One or two plain sentences for the catalog.", max_length=500
            ),
        ),
        migrations.AddField(
            model_name="trainedmodel",
            name="model_card",
            field=models.TextField(
                blank=True, help_text="Markdown, shown on the model page after sanitising (core.markdown)."
            ),
        ),
        migrations.AddConstraint(
            model_name="trainedmodel",
            constraint=models.CheckConstraint(
                condition=models.Q(price_per_request__gte=0), name="model_price_per_request_not_negative"
            ),
        ),
    ]

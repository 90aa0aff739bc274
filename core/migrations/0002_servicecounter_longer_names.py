from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="servicecounter",
            name="name",
            field=models.CharField(max_length=200, primary_key=True, serialize=False),
        ),
    ]

"""Migration 0004 renames ``active_set_by_staff`` to ``active_pinned``: a version staff
chose before keeps its pin (a newer version still does not replace it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("mlmodels", "0003_experiments")]
AFTER = [("mlmodels", "0004_owner_versions_and_flat_prices")]


@pytest.mark.django_db(transaction=True)
def test_staff_choices_keep_their_pin_and_prices_start_flat_free():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(BEFORE)
        old_apps = executor.loader.project_state(BEFORE).apps
        User = old_apps.get_model("accounts", "User")
        Algorithm = old_apps.get_model("mlmodels", "Algorithm")
        TrainedModel = old_apps.get_model("mlmodels", "TrainedModel")
        owner = User.objects.create(username="owner-0004")
        algorithm = Algorithm.objects.create(key="algo-0004", name="A", task="classification")
        common = {"owner": owner, "algorithm": algorithm, "task": "classification", "target": "y"}
        chosen = TrainedModel.objects.create(name="m", version=1, active_set_by_staff=True, **common)
        newest = TrainedModel.objects.create(
            name="m", version=2, is_active=False, active_set_by_staff=False, **common
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new_apps = executor.loader.project_state(AFTER).apps
        TrainedModel = new_apps.get_model("mlmodels", "TrainedModel")
        assert TrainedModel.objects.get(pk=chosen.pk).active_pinned is True
        assert TrainedModel.objects.get(pk=newest.pk).active_pinned is False
        migrated = TrainedModel.objects.get(pk=chosen.pk)
        assert (migrated.price_per_request, migrated.description, migrated.model_card) == (
            Decimal("0.00"),
            "",
            "",
        )
        TrainedModel.objects.all().delete()
        Algorithm = new_apps.get_model("mlmodels", "Algorithm")
        Algorithm.objects.filter(key="algo-0004").delete()
        new_apps.get_model("accounts", "User").objects.filter(username="owner-0004").delete()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

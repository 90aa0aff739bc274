"""Operators' screens for experiments: the price per trial, and every experiment with
its leaderboard (read only; a stuck one is failed and refunded by the sweep)."""

from __future__ import annotations

from django.contrib import admin

from billing.admin import PriceFieldsAdminMixin
from core.admin import ReadOnlyAdmin
from mlmodels.models import Experiment, ExperimentSettings, ExperimentTrial
from mlmodels.services import experiment_price_per_trial


@admin.register(ExperimentSettings)
class ExperimentSettingsAdmin(PriceFieldsAdminMixin, admin.ModelAdmin):
    price_fields = ("price_per_trial",)
    list_display = ["__str__", "price_per_trial", "price_now"]
    fields = ["price_per_trial", "price_now"]
    readonly_fields = ["price_now"]

    @admin.display(description="price per trial charged now")
    def price_now(self, settings: ExperimentSettings | None = None):
        return experiment_price_per_trial()

    # One row: the settings.
    def has_add_permission(self, request) -> bool:
        return not ExperimentSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TrialInline(admin.TabularInline):
    model = ExperimentTrial
    fields = [
        "number",
        "algorithm",
        "state",
        "cv_mean",
        "cv_std",
        "fit_seconds",
        "rows",
        "hyperparameters",
        "error",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "owner",
        "dataset_name",
        "target",
        "metric",
        "status",
        "trials_done",
        "max_trials",
        "best_score",
        "cost",
        "created_at",
    ]
    list_filter = ["status", "task", "metric"]
    search_fields = ["owner__username", "dataset_name", "target", "name"]
    inlines = [TrialInline]

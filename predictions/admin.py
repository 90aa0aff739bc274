from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import ReadOnlyAdmin
from predictions.models import Prediction


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    """Read-only: a prediction changes only through predictions.services (its status
    and its money move together)."""

    list_display = (
        "id",
        "owner",
        "model",
        "status",
        "input_kind",
        "rows",
        "cost",
        "created_at",
        "started_at",
        "finished_at",
        "scoring_seconds",
        "attempts",
    )
    list_filter = ("status", "input_kind", ("created_at", admin.DateFieldListFilter), "model", "owner")
    search_fields = ("id", "owner__username", "model__name", "input_filename", "task_id")
    list_select_related = ("owner", "model")
    date_hierarchy = "created_at"
    exclude = ("inputs", "results")
    readonly_fields = ("ledger_entries", "inputs_preview", "results_preview")

    @admin.display(description="Ledger entries")
    def ledger_entries(self, prediction):
        entries = prediction.ledger_entries.order_by("created_at", "id")
        if not entries:
            return "None (a free prediction)."
        return format_html_join(
            mark_safe("<br>"),  # a constant
            '<a href="{}">{} {}</a> · {}',
            (
                (
                    reverse("admin:billing_ledgerentry_change", args=[entry.pk]),
                    entry.get_kind_display(),
                    entry.amount,
                    entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                )
                for entry in entries
            ),
        )

    @admin.display(description="Inputs (first rows)")
    def inputs_preview(self, prediction):
        return self._preview(prediction.inputs)

    @admin.display(description="Inline results (first rows)")
    def results_preview(self, prediction):
        return self._preview(prediction.results)

    @staticmethod
    def _preview(values):
        if not values:
            return "—"
        shown = values[:5]
        more = f" … and {len(values) - len(shown)} more" if len(values) > len(shown) else ""
        return format_html("<code>{}</code>{}", shown, more)

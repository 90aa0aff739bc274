"""The operations dashboard in the admin (/admin/operations/, staff only: the URL
wraps it in ``admin.site.admin_view``). Charts of jobs per hour, failure rate, queue
wait, coins per day and the most used models, drawn by static/js/ops-dashboard.js
from one json_script block; every number is a database aggregate (selectors)."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from operations import health, selectors

HOURS = 48
DAYS = 30


def _model_admin_url(model_id: int) -> str:
    return reverse("admin:mlmodels_trainedmodel_change", args=[model_id])


def operations(request):
    data = selectors.dashboard_data(now=timezone.localtime(), hours=HOURS, days=DAYS)
    for row in data["top_models"]:
        row["admin_url"] = _model_admin_url(row["model_id"])
    checks = health.run_checks()
    jobs_now = {(row["kind"], row["status"]): row["count"] for row in selectors.jobs_in_flight()}
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "data": data,
        "checks": [(name, result.as_dict()) for name, result in checks.items()],
        "jobs_now": [
            {
                "kind": kind,
                "queued": jobs_now.get((kind, "queued"), 0),
                "running": jobs_now.get((kind, "running"), 0),
            }
            for kind in ("prediction", "training")
        ],
        "totals": {
            "predictions": sum(data["jobs_per_hour"]["predictions"]),
            "trainings": sum(data["jobs_per_hour"]["trainings"]),
            "charged": sum(data["coins"]["prediction_charge"]) + sum(data["coins"]["training_fee"]),
            "refunded": sum(data["coins"]["refund"]),
        },
        "time_zone": timezone.get_current_timezone_name(),
        "hours": HOURS,
        "days": DAYS,
    }
    return TemplateResponse(request, "admin/operations.html", context)

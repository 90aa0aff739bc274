"""/metrics counts webhook attempts by outcome; the dashboard has a panel for failures."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from prometheus_client import generate_latest

from operations import metrics
from predictions.tasks import run_prediction
from webhooks.services import webhooks_deliver_due

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/mlservice.json"


def webhook_samples() -> dict[str, float]:
    metrics._cached.clear()
    text = generate_latest(metrics.scrape_registry(private_names=True)).decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("mlservice_webhook_deliveries_total{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('outcome="')[1].split('"')[0]] = float(value)
    return found


def test_attempts_are_counted_by_outcome(alice_api, alice_secret, classifier, row, receiver):
    assert webhook_samples() == {"delivered": 0, "failed": 0, "refused": 0, "retrying": 0}
    receiver.answers = [(500, {}), (204, {})]
    response = alice_api.post(
        "/api/v1/predictions/",
        {"model": classifier.pk, "inputs": row, "webhook": receiver.url},
        format="json",
    )
    run_prediction(response.json()["id"])
    start = timezone.now()
    webhooks_deliver_due(now=start)
    webhooks_deliver_due(now=start + timedelta(seconds=30))
    assert webhook_samples() == {"delivered": 1, "failed": 0, "refused": 0, "retrying": 1}


def test_the_dashboard_has_a_webhook_failures_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    [panel] = [
        panel for panel in dashboard["panels"] if "webhook delivery failures" in panel["title"].lower()
    ]
    assert any('outcome!="delivered"' in target["expr"] for target in panel["targets"])
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))

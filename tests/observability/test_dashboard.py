"""The operations dashboard in the admin: staff only, linked from the admin index,
charts fed by one json_script block of database aggregates."""

from __future__ import annotations

import json
import re

from predictions.tasks import run_prediction
from tests.observability.helpers import submit

URL = "/admin/operations/"


def chart_data(response) -> dict:
    match = re.search(
        rb'<script id="ops-data" type="application/json">(.*?)</script>', response.content, re.S
    )
    assert match, "no ops-data block"
    return json.loads(match.group(1))


def test_it_is_for_staff_only(db, client, alice_web):
    assert alice_web.get(URL).status_code == 302
    assert alice_web.get(URL)["Location"].startswith("/admin/login/")
    client.logout()
    assert client.get(URL).status_code == 302


def test_the_admin_index_links_to_it(client, staff):
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert f'href="{URL}"'.encode() in response.content
    # Django's own app list is still there.
    assert b'id="content-main"' in response.content
    assert b"/admin/accounts/" in response.content


def test_it_draws_empty_charts_on_an_empty_service(client, staff):
    client.force_login(staff)
    response = client.get(URL)

    assert response.status_code == 200
    data = chart_data(response)
    assert len(data["hours"]) == 48
    assert data["jobs_per_hour"] == {"predictions": [0] * 48, "trainings": [0] * 48}
    assert data["failure_rate"]["predictions"] == [None] * 48
    assert data["queue_wait"]["median"] == [None] * 48
    assert len(data["days"]) == 30
    assert data["coins"]["refund"] == [0] * 30
    assert data["top_models"] == []
    for canvas in ("ops-jobs-per-hour", "ops-failure-rate", "ops-queue-wait", "ops-coins", "ops-top-models"):
        assert f'id="{canvas}"'.encode() in response.content
    # Only scripts from static files, and the one JSON data block.
    scripts = re.findall(rb"<script[^>]*>", response.content)
    assert all(b" src=" in tag or b'type="application/json"' in tag for tag in scripts), scripts
    assert b"js/ops-dashboard.js" in response.content
    assert b"vendor/chartjs/chart.umd.min.js" in response.content


def test_it_shows_real_jobs_coins_and_the_top_model(client, staff, alice_api, trained_model):
    done = submit(alice_api, trained_model)
    run_prediction(done.pk)
    canceled = submit(alice_api, trained_model)
    assert alice_api.post(f"/api/v1/predictions/{canceled.pk}/cancel/").status_code == 200
    done.refresh_from_db()
    canceled.refresh_from_db()

    client.force_login(staff)
    response = client.get(URL)
    data = chart_data(response)

    # Sums over the whole window, so a test that runs across midnight still passes.
    assert sum(data["jobs_per_hour"]["predictions"]) == 2
    assert sum(data["jobs_per_hour"]["trainings"]) == 1
    assert {rate for rate in data["failure_rate"]["predictions"] if rate is not None} == {0.0}
    assert {rate for rate in data["failure_rate"]["trainings"] if rate is not None} == {0.0}
    assert any(median is not None for median in data["queue_wait"]["median"])
    assert sum(data["coins"]["prediction_charge"]) == float(done.cost + canceled.cost)
    assert sum(data["coins"]["training_fee"]) == float(trained_model.training_fee)
    assert sum(data["coins"]["refund"]) == float(canceled.cost)
    [top] = data["top_models"]
    assert (top["model"], top["predictions"], top["rows"]) == ("churn v1", 2, 6)
    assert b"churn v1" in response.content

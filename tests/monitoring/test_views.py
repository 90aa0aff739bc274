"""The model page's Drift section: the table by PSI with its traffic lights, the charts'
data, and what the model predicted — for the owner and staff only."""

from __future__ import annotations

import json
import re

from django.urls import reverse

from tests.monitoring.conftest import draw, predict_csv


def page(client, model) -> str:
    response = client.get(reverse("mlmodels:model-detail", args=[model.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_owner_sees_the_drift_table_worst_first_with_lights(client, alice, alice_api, classifier):
    predict_csv(alice_api, classifier, draw(1000, seed=40, shift_x=1.5))
    client.force_login(alice)
    html = page(client, classifier)

    table = html[html.index('id="drift-table"') :]
    table = table[: table.index("</table>")]
    names = re.findall(r"<td><code>([^<]+)</code></td>", table)
    levels = re.findall(r'data-level="(\w+)"', table)
    assert names[0] == "x" and set(names) == {"x", "y", "color"}
    assert levels[0] == "red" and "large shift" in table
    assert levels[1:] == ["green", "green"] and table.count("stable") == 2
    # The charts' data: every feature's training and recent shares on the same bins.
    data = json.loads(
        re.search(r'<script id="drift-data" type="application/json">(.*?)</script>', html, re.S)[1]
    )
    assert [item["name"] for item in data] == names
    assert all(abs(sum(b["recent"] for b in item["bins"]) - 1) < 1e-9 for item in data)
    assert html.count('data-chart="distribution" data-source="drift-data"') == 3
    # What it predicted: both classes, with their shares.
    assert 'id="prediction-distribution"' in html and "1000 rows predicted in all" in html
    assert "vendor/chartjs/chart.umd.min.js" in html and "js/charts.js" in html


def test_too_few_rows_says_so_on_the_page(client, alice, classifier):
    client.force_login(alice)
    html = page(client, classifier)
    assert 'id="drift-status"' in html and "0 predicted rows so far" in html
    assert 'id="drift-table"' not in html


def test_another_user_sees_a_public_model_without_its_drift(client, bob, alice_api, classifier):
    classifier.is_public = True
    classifier.save(update_fields=["is_public"])
    predict_csv(alice_api, classifier, draw(300, seed=41))
    client.force_login(bob)
    html = page(client, classifier)
    assert 'id="drift"' not in html


def test_staff_see_the_drift_of_any_model(client, staff, alice_api, classifier):
    predict_csv(alice_api, classifier, draw(300, seed=42))
    client.force_login(staff)
    assert 'id="drift-table"' in page(client, classifier)

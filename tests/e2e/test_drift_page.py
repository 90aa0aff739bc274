"""The model page's Drift section in a real browser: after shifted predictions scored
by a real worker, the table shows the shifted column red and the charts draw."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from predictions.models import Prediction
from tests.conftest import wait_for
from tests.e2e.conftest import log_in, screenshot
from tests.monitoring.conftest import draw, train


def test_the_drift_section_shows_a_shifted_column_red_with_its_charts(live, new_page, alice, alice_api):
    model = train(alice)
    buffer = io.StringIO()
    draw(400, seed=70, shift_x=1.5, unknown_color=0.2).to_csv(buffer, index=False)
    upload = SimpleUploadedFile("rows.csv", buffer.getvalue().encode(), content_type="text/csv")
    response = alice_api.post("/api/v1/predictions/", {"model": model.pk, "file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    wait_for(
        lambda: Prediction.objects.filter(pk=response.json()["id"], status="succeeded").exists(),
        timeout=90,
        what="the prediction to succeed",
    )

    page, _ = new_page()
    log_in(page, live.url, "alice")
    page.goto(f"{live.url}/models/{model.pk}/")
    table = page.locator("#drift-table")
    rows = table.locator("tbody tr")
    assert rows.count() == 3
    first = rows.nth(0)
    assert first.locator("code").inner_text() in ("x", "color")
    assert first.get_attribute("data-level") == "red"
    assert "large shift" in first.inner_text()
    # Every chart drew: Chart.js sizes its canvas.
    canvases = page.locator('#drift canvas[data-chart="distribution"]')
    assert canvases.count() == 4  # three columns and the predicted classes
    for number in range(canvases.count()):
        assert canvases.nth(number).bounding_box()["height"] > 50
    page.locator("#drift").scroll_into_view_if_needed()
    screenshot(page, "model-drift")

"""Input drift, end to end: a model trained through the services keeps its training
reference; CSV and JSON predictions scored by the real task feed its sample; the API
reports PSI per feature, unknown categories and the change in missing rate."""

from __future__ import annotations

import pytest

from monitoring.models import PredictionSample, PredictionSampleRow, TrainingReference
from tests.monitoring.conftest import draw, predict_csv, predict_json


def drift_of(api, model) -> dict:
    response = api.get(f"/api/v1/models/{model.pk}/drift/")
    assert response.status_code == 200, response.content
    return response.json()


def by_name(body: dict) -> dict[str, dict]:
    return {feature["name"]: feature for feature in body["features"]}


def test_inputs_like_the_training_data_show_no_drift(alice_api, classifier):
    predict_csv(alice_api, classifier, draw(2000, seed=7))

    body = drift_of(alice_api, classifier)
    assert body["status"] == "ready"
    assert body["window"]["rows"] == 2000 and body["window"]["seen"] == 2000
    assert set(by_name(body)) == {"x", "y", "color"}
    for feature in body["features"]:
        assert feature["psi"] < 0.1, feature
        assert feature["level"] == "green"
        assert feature["unknown_share"] == 0


def test_shifted_features_are_red_and_the_others_stay_green(alice_api, classifier):
    recent = draw(2000, seed=8, shift_x=1.5, unknown_color=0.3)
    predict_csv(alice_api, classifier, recent)

    body = drift_of(alice_api, classifier)
    features = by_name(body)
    assert features["x"]["psi"] > 0.25 and features["x"]["level"] == "red"
    assert features["color"]["psi"] > 0.25 and features["color"]["level"] == "red"
    assert features["y"]["psi"] < 0.1 and features["y"]["level"] == "green"
    # Worst first, and "purple" counted as unknown, as often as it was sent.
    psis = [feature["psi"] for feature in body["features"]]
    assert psis == sorted(psis, reverse=True) and body["psi_max"] == psis[0]
    assert features["color"]["unknown_share"] == pytest.approx((recent["color"] == "purple").mean())
    unknown_bin = next(item for item in features["color"]["bins"] if item["label"] == "unknown")
    assert unknown_bin["training"] == 0 and unknown_bin["recent"] == features["color"]["unknown_share"]


def test_the_change_in_missing_rate_is_reported(alice_api, classifier):
    recent = draw(1000, seed=9, missing_y=0.25)
    predict_csv(alice_api, classifier, recent)

    features = by_name(drift_of(alice_api, classifier))
    sent_missing = (recent["y"] == "").mean()
    assert features["y"]["training_missing"] == 0
    assert features["y"]["recent_missing"] == pytest.approx(sent_missing)
    assert features["y"]["missing_change"] == pytest.approx(sent_missing)
    assert features["x"]["missing_change"] == 0


def test_too_few_predictions_say_how_many_there_are_and_how_many_are_needed(alice_api, classifier, settings):
    settings.DRIFT_MIN_ROWS = 50
    rows = draw(3, seed=10).to_dict("records")
    predict_json(alice_api, classifier, rows)

    body = drift_of(alice_api, classifier)
    assert body["status"] == "too_few_rows"
    assert body["features"] == []
    assert body["window"] == {**body["window"], "rows": 3, "seen": 3, "minimum_rows": 50}
    assert "3 predicted rows" in body["detail"] and "50" in body["detail"] and "47 more" in body["detail"]


def test_the_training_reference_is_kept_when_the_model_is_trained(classifier):
    reference = TrainingReference.objects.get(model=classifier)
    features = {feature["name"]: feature for feature in reference.features}
    assert reference.rows == 1000
    # Deciles of x: ten bins holding a tenth of the rows each.
    assert len(features["x"]["edges"]) == 9
    assert features["x"]["shares"] == pytest.approx([0.1] * 10, abs=0.002)
    assert set(features["color"]["categories"]) == {"red", "green", "blue"}
    assert sum(features["color"]["categories"].values()) + features["color"]["missing"] == pytest.approx(1)
    assert sum(reference.target["shares"]) == pytest.approx(1)


def test_the_sample_stays_at_its_capacity_and_keeps_the_count(alice_api, classifier, settings):
    settings.DRIFT_SAMPLE_ROWS = 100
    for seed in range(4):
        predict_csv(alice_api, classifier, draw(250, seed=20 + seed))

    sample = PredictionSample.objects.get(model=classifier)
    assert sample.seen == 1000 and sample.size == 100
    slots = sorted(PredictionSampleRow.objects.filter(model=classifier).values_list("slot", flat=True))
    assert slots == list(range(100))


def test_a_monitoring_failure_never_fails_the_prediction(alice_api, classifier, monkeypatch, scrape):
    from monitoring import services

    def broken(self):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services.PredictionObserver, "_record", broken)
    prediction = predict_json(alice_api, classifier, draw(2, seed=11).to_dict("records"))

    prediction.refresh_from_db()
    assert prediction.status == "succeeded" and prediction.results
    assert not PredictionSample.objects.filter(model=classifier, seen__gt=0).exists()
    assert scrape().value("mlservice_monitoring_errors_total") == 1


def test_bob_gets_a_404_even_for_a_public_model_and_staff_see_it(alice_api, bob_api, staff_api, classifier):
    classifier.is_public = True
    classifier.save(update_fields=["is_public"])

    assert bob_api.get(f"/api/v1/models/{classifier.pk}/").status_code == 200  # the model, yes
    response = bob_api.get(f"/api/v1/models/{classifier.pk}/drift/")
    assert response.status_code == 404 and "detail" in response.json()
    assert staff_api.get(f"/api/v1/models/{classifier.pk}/drift/").status_code == 200
    assert drift_of(alice_api, classifier)["model"] == classifier.pk


def test_a_model_that_is_not_ready_has_no_drift_yet(alice_api, classifier):
    classifier.status = "running"
    classifier.save(update_fields=["status"])
    response = alice_api.get(f"/api/v1/models/{classifier.pk}/drift/")
    assert response.status_code == 409 and "only a ready model" in response.json()["detail"]


def test_the_drift_answer_is_in_the_openapi_schema(alice_api):
    schema = alice_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/models/{id}/drift/"]["get"]
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    drift = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert {"status", "detail", "features", "window", "predictions", "psi_max"} <= set(drift["properties"])
    assert "404" in operation["responses"]

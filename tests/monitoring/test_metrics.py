"""/metrics after real predictions scored by the real task: predicted classes, the
histogram of predicted values and the worst drift per model."""

from __future__ import annotations

from monitoring.models import PredictionTally
from predictions.models import Prediction
from tests.monitoring.conftest import draw, predict_csv, predict_json


def test_predicted_classes_are_counted_per_model(alice_api, classifier, scrape):
    before = scrape()
    assert not before.has("mlservice_predicted_class_total", model_id=str(classifier.pk))

    prediction = predict_csv(alice_api, classifier, draw(300, seed=30))
    after = scrape()

    results = Prediction.objects.get(pk=prediction.pk)
    labels = {"model_id": str(classifier.pk), "model": "drifty v1"}
    counted = {
        cls: after.value("mlservice_predicted_class_total", **labels, **{"class": cls})
        for cls in ("no", "yes")
    }
    assert sum(counted.values()) == results.rows == 300
    assert min(counted.values()) > 0  # both classes predicted on data like the training data
    # The same counts on the model's drift answer.
    shares = {
        item["label"]: item["recent"]
        for item in alice_api.get(f"/api/v1/models/{classifier.pk}/drift/").json()["predictions"]["bins"]
    }
    assert shares == {cls: count / 300 for cls, count in counted.items()}


def test_regressor_predictions_fill_a_histogram_on_the_training_deciles(alice_api, regressor, scrape):
    rows = draw(5, seed=31).to_dict("records")
    prediction = predict_json(alice_api, regressor, rows)
    metrics = scrape()

    labels = {"model_id": str(regressor.pk), "model": "valued v1"}
    values = [row["prediction"] for row in Prediction.objects.get(pk=prediction.pk).results]
    assert metrics.value("mlservice_predicted_value_bucket", le="+Inf", **labels) == 5
    # OpenMetrics: a histogram with negative buckets has no _sum/_count (prometheus_client
    # leaves them out); the count is the +Inf bucket. This target's deciles go below 0.
    buckets = [
        sample
        for sample in metrics.samples
        if sample.name == "mlservice_predicted_value_bucket"
        and sample.labels["model_id"] == labels["model_id"]
    ]
    assert len(buckets) == 10  # nine deciles of the training target, then +Inf
    for sample in buckets:
        bound = float(sample.labels["le"])
        assert sample.value == sum(value <= bound for value in values)


def test_the_worst_drift_appears_once_enough_rows_were_sampled(alice_api, classifier, scrape, settings):
    settings.DRIFT_MIN_ROWS = 200
    labels = {"model_id": str(classifier.pk)}
    predict_csv(alice_api, classifier, draw(150, seed=32, shift_x=2.0))
    assert not scrape().has("mlservice_model_drift_psi_max", **labels)

    predict_csv(alice_api, classifier, draw(150, seed=33, shift_x=2.0))
    metrics = scrape()

    drift = alice_api.get(f"/api/v1/models/{classifier.pk}/drift/").json()
    assert metrics.value("mlservice_model_drift_psi_max", **labels) == drift["psi_max"]
    assert drift["psi_max"] > 0.25


def test_classes_past_the_cap_count_as_other(db, classifier, scrape):
    from monitoring.distributions import MAX_CLASSES, class_key

    assert class_key(MAX_CLASSES - 1) == str(MAX_CLASSES - 1)
    assert class_key(MAX_CLASSES) == class_key(MAX_CLASSES + 7) == "other"
    PredictionTally.objects.create(model=classifier, key="other", count=4)
    assert (
        scrape().value("mlservice_predicted_class_total", model_id=str(classifier.pk), **{"class": "other"})
        == 4
    )

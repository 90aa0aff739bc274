"""deploy/loadgen.py against a live server: a steady, bounded mix of one-row and CSV
predictions through the API, with a user it registers itself."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from predictions.models import Prediction
from tests.monitoring.conftest import train

LOADGEN = Path(__file__).resolve().parents[2] / "deploy" / "loadgen.py"


def load():
    spec = importlib.util.spec_from_file_location("loadgen", LOADGEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadgen"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def public_model(alice):
    model = train(alice)
    model.is_public = True
    model.save(update_fields=["is_public"])
    return model


def test_it_sends_a_mix_of_rows_and_files_and_stops_at_its_bounds(live_server, public_model):
    loadgen = load()
    settings = loadgen.Settings(
        url=live_server.url, rate=20, duration=30, max_requests=8, csv_share=0.5, csv_rows=5, seed=1
    ).bounded()

    counts = loadgen.run(settings, log=lambda *args, **kwargs: None)

    assert counts["sent"] == 8 and counts[202] == 8
    sent = Prediction.objects.filter(owner__username__startswith="loadgen-", model=public_model)
    assert sent.count() == 8
    assert sent.filter(input_kind="csv").count() == counts["csv"] > 0
    assert sent.filter(input_kind="json").count() == counts["json"] > 0
    assert {prediction.rows for prediction in sent.filter(input_kind="csv")} == {5}
    # The inputs are within the training ranges the model's API answer gives.
    features = {feature["name"]: feature for feature in public_model.features}
    for prediction in sent.filter(input_kind="json"):
        for record in prediction.inputs:
            assert features["x"]["minimum"] <= record["x"] <= features["x"]["maximum"]
            assert record["color"] in features["color"]["categories"]


def test_the_duration_bounds_a_run(live_server, public_model):
    loadgen = load()
    settings = loadgen.Settings(url=live_server.url, rate=10, duration=0.5, csv_share=0, seed=2).bounded()
    counts = loadgen.run(settings, log=lambda *args, **kwargs: None)
    assert 1 <= counts["sent"] <= 6


@pytest.mark.parametrize(
    "wrong", [{"rate": 50}, {"rate": 0}, {"duration": 10**6}, {"csv_rows": 20_000}, {"csv_share": 2}]
)
def test_settings_beyond_the_limits_are_refused(wrong):
    loadgen = load()
    with pytest.raises(SystemExit):
        loadgen.Settings(**wrong).bounded()

"""The allow-list of skops types covers every scikit-learn model this service trains:
a model exported from here with skops can be imported back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io

from mlmodels.ml import catalog, training
from mlmodels.ml.model_files import SKOPS, sniff_model_file

SKLEARN_ALGORITHMS = [key for key, spec in catalog.ALGORITHMS.items() if not spec.native_categorical]


@pytest.mark.parametrize("key", SKLEARN_ALGORITHMS)
def test_every_catalog_pipeline_saved_with_skops_passes_the_allow_list(key, tmp_path):
    spec = catalog.ALGORITHMS[key]
    rng = np.random.RandomState(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=40).round(3).astype(str), "color": np.array(["red", "blue"])[np.arange(40) % 2]}
    )
    frame["y"] = (["a", "b"] * 20) if spec.task == "classification" else rng.normal(size=40).astype(str)
    result = training.train_model(
        frame,
        target="y",
        algorithm=key,
        hyperparameters=catalog.validate_hyperparameters(key, {}),
        test_size=0.25,
        random_state=0,
    )
    path = tmp_path / "model.skops"
    skops.io.dump(result.pipeline, path)

    assert sniff_model_file(path, max_bytes=10**8).format == SKOPS

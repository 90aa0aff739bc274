from __future__ import annotations

import hashlib

import joblib
import numpy as np
import pytest

from mlmodels.ml.artifacts import file_sha256, library_versions, load_artifact, save_artifact
from mlmodels.ml.errors import ArtifactError
from mlmodels.ml.schema import coerce_frame
from mlmodels.ml.training import train_model


@pytest.fixture
def trained(raw_table):
    return train_model(
        raw_table(),
        target="label",
        algorithm="catboost_classifier",
        hyperparameters={"iterations": 20, "depth": 3},
    )


@pytest.fixture
def saved(tmp_path, trained):
    path = tmp_path / "models" / "model.joblib"
    info = save_artifact(
        path,
        pipeline=trained.pipeline,
        feature_schema=trained.feature_schema,
        algorithm="catboost_classifier",
    )
    return path, info


def test_a_saved_model_loads_and_predicts_the_same(saved, trained, raw_table):
    path, info = saved
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
    assert info.size_bytes == path.stat().st_size
    assert set(info.library_versions) == {
        "python",
        "scikit-learn",
        "catboost",
        "pandas",
        "numpy",
        "joblib",
    }

    loaded = load_artifact(path, sha256=info.sha256)
    assert loaded.algorithm == "catboost_classifier"
    assert loaded.feature_schema == trained.feature_schema
    assert loaded.library_versions == library_versions()
    rows, _, _ = coerce_frame(raw_table(rows=10, seed=5), loaded.feature_schema.features)
    assert np.array_equal(loaded.pipeline.predict_proba(rows), trained.pipeline.predict_proba(rows))
    assert list(loaded.pipeline.classes_) == loaded.feature_schema.classes


def test_saving_leaves_no_temporary_files(saved):
    path, _ = saved
    assert [item.name for item in path.parent.iterdir()] == ["model.joblib"]


def test_a_tampered_file_is_refused_before_unpickling(saved):
    path, info = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as caught:
        load_artifact(path, sha256=info.sha256)
    assert "changed since it was saved" in caught.value.message


def test_a_file_replaced_by_another_pickle_is_refused(saved):
    path, info = saved
    joblib.dump({"format": 1, "pipeline": "not a model"}, path)
    with pytest.raises(ArtifactError):
        load_artifact(path, sha256=info.sha256)


def test_a_missing_file_is_an_artifact_error(tmp_path):
    with pytest.raises(ArtifactError) as caught:
        load_artifact(tmp_path / "gone.joblib", sha256="0" * 64)
    assert "missing" in caught.value.message


def test_a_verified_file_that_is_not_an_artifact_is_refused(tmp_path):
    path = tmp_path / "other.joblib"
    joblib.dump(["just", "a", "list"], path)
    with pytest.raises(ArtifactError) as caught:
        load_artifact(path, sha256=file_sha256(path))
    assert "not a model artifact" in caught.value.message

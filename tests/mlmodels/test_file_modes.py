"""Dataset uploads (written by the web) and model artifacts (written by a worker) get
the one shared mode, MEDIA_FILE_MODE, whatever the writing process's umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlservice.settings import env_file_mode


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _private_umask():
    previous = os.umask(0o077)
    yield
    os.umask(previous)


def test_datasets_and_artifacts_get_the_shared_mode(trained_model, settings):
    media = Path(settings.MEDIA_ROOT)
    dataset_file = media / trained_model.dataset.file.name
    artifact = media / trained_model.artifact

    assert mode(dataset_file) == mode(artifact) == settings.FILE_UPLOAD_PERMISSIONS == 0o644
    assert mode(dataset_file.parent) == mode(artifact.parent) == 0o755


def test_an_operator_can_choose_a_group_only_mode(make_dataset, alice, settings):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

    dataset = make_dataset(alice)

    path = Path(settings.MEDIA_ROOT) / dataset.file.name
    assert mode(path) == 0o640 and mode(path.parent) == 0o750


@pytest.mark.parametrize(("value", "expected"), [("", 0o644), ("640", 0o640), ("0o600", 0o600)])
def test_media_file_mode_is_read_as_octal(monkeypatch, value, expected):
    monkeypatch.setenv("MEDIA_FILE_MODE", value)
    assert env_file_mode("MEDIA_FILE_MODE", 0o644) == expected


@pytest.mark.parametrize("value", ["rw-r--r--", "1644", "444", "999"])
def test_a_bad_media_file_mode_fails_loudly(monkeypatch, value):
    monkeypatch.setenv("MEDIA_FILE_MODE", value)
    with pytest.raises(ImproperlyConfigured, match="MEDIA_FILE_MODE"):
        env_file_mode("MEDIA_FILE_MODE", 0o644)

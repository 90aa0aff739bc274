"""Every file the web must read gets the one shared mode (MEDIA_FILE_MODE), whichever
process writes it and whatever its umask: the web server and the workers may run as
different users of one group."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from predictions import tasks
from predictions.models import Prediction
from tests.predictions.conftest import ROW, upload

URL = "/api/v1/predictions/"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _private_umask():
    """A process whose umask shares nothing: what the service writes must not depend on it."""
    previous = os.umask(0o077)
    yield
    os.umask(previous)
    tasks.cache_clear()


def test_a_result_csv_is_readable_by_the_web_like_every_other_file(alice, alice_api, classifier, settings):
    media = Path(settings.MEDIA_ROOT)
    answered = alice_api.post(URL, {"model": classifier.pk, "inputs": [ROW]}, format="json")
    assert answered.status_code == 202, answered.content
    prediction = Prediction.objects.get(pk=answered.json()["id"])

    assert tasks.run_prediction(prediction.pk).endswith("succeeded")

    prediction.refresh_from_db()
    result = media / prediction.result_file
    # Was 0600 (mkstemp's mode), while model files were 0644.
    assert mode(result) == settings.FILE_UPLOAD_PERMISSIONS == 0o644
    assert mode(result.parent) == settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o755


def test_csv_inputs_and_results_follow_media_file_mode(alice, alice_api, classifier, settings, make_csv):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
    media = Path(settings.MEDIA_ROOT)
    answered = alice_api.post(URL, {"model": classifier.pk, "file": upload(make_csv(5))}, format="multipart")
    assert answered.status_code == 202, answered.content
    prediction = Prediction.objects.get(pk=answered.json()["id"])

    assert tasks.run_prediction(prediction.pk).endswith("succeeded")

    prediction.refresh_from_db()
    assert mode(media / prediction.input_file.name) == 0o640
    assert mode(media / prediction.result_file) == 0o640
    assert mode((media / prediction.result_file).parent) == 0o750
    assert alice_api.get(f"{URL}{prediction.pk}/download/").status_code == 200

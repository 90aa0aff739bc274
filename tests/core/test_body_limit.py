"""Item 9 of issue 13: an oversized body is refused by its Content-Length before
anything reads it (the CSRF check of a session would), for anonymous requests too."""

from __future__ import annotations

import pytest
from django.test import Client

from mlmodels.models import Dataset
from predictions.models import Prediction


class Unreadable:
    """A request body that fails the test if anything reads it."""

    def read(self, *args, **kwargs):
        raise AssertionError("the body was read")

    readline = read


def post_declaring(client, path: str, length: int, **extra):
    return client.generic(
        "POST",
        path,
        content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": Unreadable(), **extra},
    )


@pytest.mark.parametrize(
    ("path", "setting"),
    [("/api/v1/datasets/", "DATASET_MAX_BYTES"), ("/api/v1/predictions/", "PREDICTION_MAX_BYTES")],
)
def test_an_anonymous_upload_over_the_limit_is_a_413_with_a_json_detail(db, settings, path, setting):
    setattr(settings, setting, 1024 * 1024)
    response = post_declaring(Client(), path, 2 * 1024 * 1024)
    assert response.status_code == 413
    assert response.json()["detail"] == "The file is 2.0 MB; the limit is 1.0 MB."


def test_a_signed_in_upload_page_over_the_limit_is_a_413_page_before_the_csrf_check(alice, settings):
    settings.PREDICTION_MAX_BYTES = settings.DATASET_MAX_BYTES = 1024 * 1024
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for path in ("/datasets/upload/", "/predictions/predict/1/"):
        response = post_declaring(client, path, 50 * 1024 * 1024)
        assert response.status_code == 413
        page = response.content.decode()
        assert "the limit is 1.0 MB" in page and "alice" in page
    assert Dataset.objects.count() == 0 and Prediction.objects.count() == 0


def test_other_routes_are_held_to_the_json_body_limit(alice_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = post_declaring(alice_api, "/api/v1/billing/topup/", 2 * 1024 * 1024)
    assert response.status_code == 413
    assert "limit for JSON and form bodies" in response.json()["detail"]


def test_an_upload_within_the_limit_is_read_as_before(alice_api, settings):
    from tests.mlmodels.conftest import classification_csv, upload_file

    settings.DATASET_MAX_BYTES = 1024 * 1024
    response = alice_api.post(
        "/api/v1/datasets/", {"file": upload_file(classification_csv())}, format="multipart"
    )
    assert response.status_code == 201

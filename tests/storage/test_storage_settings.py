"""STORAGE_URL and the AWS_* variables → STORAGES["default"] (mlservice.settings)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from mlservice.settings import storage_from_environment

VARIABLES = (
    "STORAGE_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_LOCATION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY_FILE",
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_a_bucket_files_stay_on_local_disk():
    assert storage_from_environment() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_storage_url_names_bucket_prefix_endpoint_and_region(monkeypatch):
    monkeypatch.setenv(
        "STORAGE_URL",
        "s3://files/mlservice/?endpoint_url=http://127.0.0.1:9000&region=eu-west-1&addressing_style=path",
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    storage = storage_from_environment()
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert (options["bucket_name"], options["location"]) == ("files", "mlservice")
    assert (options["endpoint_url"], options["region_name"]) == ("http://127.0.0.1:9000", "eu-west-1")
    assert (options["access_key"], options["secret_key"]) == ("key", "secret")
    assert options["client_config"].s3 == {"addressing_style": "path"}


def test_the_aws_variables_work_alone_and_the_secret_can_be_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "files")
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY_FILE", str(secret))
    options = storage_from_environment()["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"]) == ("files", "http://minio:9000")
    assert options["secret_key"] == "from-a-file"


@pytest.mark.parametrize("url", ["http://files", "s3://", "s3://files?endpoint=http://x", "files"])
def test_a_bad_storage_url_stops_start_up_naming_it(monkeypatch, url):
    monkeypatch.setenv("STORAGE_URL", url)
    with pytest.raises(ImproperlyConfigured, match="STORAGE_URL"):
        storage_from_environment()

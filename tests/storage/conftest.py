"""The storage tests' S3 server (one per session) and a fresh bucket per test, made the
default storage through the same settings helper the service reads its environment
with (``STORAGE_URL``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.storage.s3_server import S3Server, require_moto


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    require_moto()
    server = S3Server(tmp_path_factory.mktemp("moto") / "moto_server.log")
    server.start()
    yield server
    server.stop()


def s3_storages(settings, environment: dict[str, str], monkeypatch) -> dict:
    from mlservice.settings import storage_from_environment

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return {**settings.STORAGES, "default": storage_from_environment()}


@dataclass
class Bucket:
    server: S3Server
    name: str

    def objects(self) -> list[str]:
        return self.server.keys(self.name)

    def delete(self, key: str) -> None:
        self.server.client().delete_object(Bucket=self.name, Key=key)


@pytest.fixture
def bucket(s3_server, settings, monkeypatch) -> Bucket:
    """An empty bucket of its own, the default storage for the test."""
    if s3_server.process is None:  # a fault test stopped it
        s3_server.start()
    name = s3_server.new_bucket()
    settings.STORAGES = s3_storages(settings, s3_server.environment(name), monkeypatch)
    return Bucket(server=s3_server, name=name)


def media_files(settings) -> list[Path]:
    return sorted(path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file())

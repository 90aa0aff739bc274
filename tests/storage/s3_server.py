"""The S3 server of the storage tests: ``devservers.s3``'s moto server, which skips the
tests, saying why, when moto is not installed locally (CI sets ``S3_REQUIRED=1`` and
they fail instead), and gives the service a short storage timeout."""

from __future__ import annotations

import importlib.util
import os

import pytest

from devservers import s3


def require_moto() -> None:
    if importlib.util.find_spec("moto") is not None and importlib.util.find_spec("flask") is not None:
        return
    reason = "moto[server] is not installed (pip install -r requirements-dev.txt): the S3 tests need it"
    if os.environ.get("S3_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


class S3Server(s3.S3Server):
    def environment(self, bucket: str) -> dict[str, str]:
        return {**super().environment(bucket), "STORAGE_TIMEOUT_SECONDS": "2"}

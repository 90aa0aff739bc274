"""A real S3-protocol server for the storage tests: moto's standalone server
(``python -m moto.server``) in a process of its own on a free loopback port — not
in-process mocking, so every byte goes through boto3, HTTP and django-storages as it
would against MinIO or AWS. It can be stopped and started again on the same port (its
buckets are lost then: moto keeps them in memory).

Locally the tests skip, saying why, when moto is not installed; CI sets
``S3_REQUIRED=1`` and they fail instead."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ACCESS_KEY = "storage-tests"
SECRET_KEY = "storage-tests-secret"
REGION = "us-east-1"


def require_moto() -> None:
    if importlib.util.find_spec("moto") is not None and importlib.util.find_spec("flask") is not None:
        return
    reason = "moto[server] is not installed (pip install -r requirements-dev.txt): the S3 tests need it"
    if os.environ.get("S3_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Server:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child holds it)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"moto_server exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        pytest.fail(f"moto_server did not answer within {timeout}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"mlservice-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object in the bucket, sorted (boto3 list_objects_v2, all pages)."""
        keys: list[str] = []
        paginator = self.client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def environment(self, bucket: str) -> dict[str, str]:
        """The service's environment for this bucket (README, "File storage")."""
        return {
            "STORAGE_URL": f"s3://{bucket}?endpoint_url={self.url}&region={REGION}&addressing_style=path",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "STORAGE_TIMEOUT_SECONDS": "2",
        }

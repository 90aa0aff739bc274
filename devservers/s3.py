"""moto's standalone S3 server (``python -m moto.server``) on a free loopback port: not
in-process mocking, so every byte goes through boto3, HTTP and django-storages as it
would against MinIO or AWS. moto keeps its buckets in memory: they are lost when it
stops. It can be stopped and started again on the same port."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from .ports import free_port
from .processes import stop_session, wait_until_answering

ACCESS_KEY = "mlservice-dev"
SECRET_KEY = "mlservice-dev-secret"
REGION = "us-east-1"


class S3Server:
    """``start()`` / ``stop()``, or use as a context manager."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_answering(
                self.process,
                f"{self.url}/moto-api/",
                log_path=self.log_path,
                timeout=timeout,
                name="moto_server",
            )
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        stop_session(self.process, grace=10)
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
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def environment(self, bucket: str) -> dict[str, str]:
        """The service's environment for this bucket (README, "File storage")."""
        return {
            "STORAGE_URL": f"s3://{bucket}?endpoint_url={self.url}&region={REGION}&addressing_style=path",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

"""A small client for an MLflow tracking server's REST API, on the standard library.

The service cannot install MLflow (their pins conflict), and needs little of it: find or
create an experiment, create a run, log params, metrics and tags in batches, upload
files through the server's artifact proxy (``mlflow server --serve-artifacts``, the
default since MLflow 2), and end the run. Every call has a timeout; every failure is a
``TrackingError`` naming the call, for the caller to log and count.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
PROXIED_ARTIFACTS = "mlflow-artifacts:"
# MLflow's documented limits for runs/log-batch.
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000


class TrackingError(Exception):
    """The tracking server could not be reached or refused a call."""


def now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MlflowTracking:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, *, body: bytes | None = None, content_type: str = "") -> Any:
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode("utf-8", "replace")
            raise TrackingError(f"{method} {path}: HTTP {error.code}: {detail}") from None
        except (OSError, ValueError) as error:  # refused, timed out, DNS, a bad URL
            raise TrackingError(f"{method} {path}: {type(error).__name__}: {error}") from None
        try:
            return json.loads(text) if text else {}
        except ValueError:
            raise TrackingError(f"{method} {path}: the answer is not JSON") from None

    def _call(self, method: str, endpoint: str, payload: dict[str, Any] | None = None) -> Any:
        if method == "GET":
            query = urllib.parse.urlencode(payload or {})
            return self._request("GET", f"{API}/{endpoint}?{query}")
        body = json.dumps(payload or {}).encode()
        return self._request(method, f"{API}/{endpoint}", body=body, content_type="application/json")

    def experiment_id(self, name: str) -> str:
        """The id of the experiment ``name``, created when it does not exist yet."""
        try:
            found = self._call("GET", "experiments/get-by-name", {"experiment_name": name})
            return str(found["experiment"]["experiment_id"])
        except TrackingError as error:
            if "RESOURCE_DOES_NOT_EXIST" not in str(error):
                raise
        try:
            return str(self._call("POST", "experiments/create", {"name": name})["experiment_id"])
        except TrackingError as error:
            if "RESOURCE_ALREADY_EXISTS" not in str(error):
                raise
            # Created by another worker meanwhile.
            found = self._call("GET", "experiments/get-by-name", {"experiment_name": name})
            return str(found["experiment"]["experiment_id"])

    def create_run(
        self, *, experiment_id: str, run_name: str, start_ms: int, tags: dict[str, str]
    ) -> dict[str, Any]:
        """The new run's ``info`` (``run_id``, ``artifact_uri``, ...)."""
        payload = {
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": start_ms,
            "tags": [{"key": key, "value": value[:MAX_TAG_VALUE]} for key, value in tags.items()],
        }
        return self._call("POST", "runs/create", payload)["run"]["info"]

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        step: int = 0,
        timestamp_ms: int | None = None,
    ) -> None:
        stamp = timestamp_ms or now_ms()
        param_items = [
            {"key": key, "value": value[:MAX_PARAM_VALUE]} for key, value in (params or {}).items()
        ]
        tag_items = [{"key": key, "value": value[:MAX_TAG_VALUE]} for key, value in (tags or {}).items()]
        metric_items = [
            {"key": key, "value": value, "timestamp": stamp, "step": step}
            for key, value in (metrics or {}).items()
        ]
        for chunk in _chunks(param_items, MAX_PARAMS_PER_BATCH):
            self._call("POST", "runs/log-batch", {"run_id": run_id, "params": chunk})
        for chunk in _chunks(tag_items, MAX_TAGS_PER_BATCH):
            self._call("POST", "runs/log-batch", {"run_id": run_id, "tags": chunk})
        for chunk in _chunks(metric_items, MAX_METRICS_PER_BATCH):
            self._call("POST", "runs/log-batch", {"run_id": run_id, "metrics": chunk})

    def end_run(self, run_id: str, *, status: str = "FINISHED", end_ms: int | None = None) -> None:
        self._call(
            "POST", "runs/update", {"run_id": run_id, "status": status, "end_time": end_ms or now_ms()}
        )

    def upload_artifact(self, artifact_uri: str, relative_path: str, content: bytes) -> None:
        """Put one file under the run's artifact root through the server's proxy. Only a
        proxied root (``mlflow-artifacts:/…``) can be written over HTTP."""
        if not artifact_uri.startswith(PROXIED_ARTIFACTS):
            raise TrackingError(
                f"the run's artifact root {artifact_uri!r} is not served by the tracking server "
                "(start it with --serve-artifacts)"
            )
        root = urllib.parse.urlparse(artifact_uri).path.strip("/")
        path = urllib.parse.quote(f"{root}/{relative_path}")
        self._request("PUT", f"{ARTIFACTS_API}/{path}", body=content, content_type="application/octet-stream")

"""schemathesis against the live production server's own OpenAPI schema, with a token:
no answer is a 5xx and none breaks the schema. Bounded: a few examples per operation
and a time budget, so the run takes about a minute.

Not sent: nothing is excluded. The fuzzer's token belongs to a user of its own, so
whatever it deletes, cancels or tops up is its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BASE_DIR

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis]

MAX_EXAMPLES = 5
MAX_SECONDS = 40
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
REPORTS = BASE_DIR / "var" / "reliability" / "schemathesis"


def schemathesis_cli() -> list[str]:
    try:
        import schemathesis  # noqa: F401
    except ImportError:
        pytest.fail("schemathesis is not installed (pip install -r requirements-dev.txt)")
    return [sys.executable, "-m", "schemathesis.cli"]


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
    live, make_user, make_model, start_cluster, figures
):
    user, token = make_user("fuzzer")
    make_model(owner=user)  # something real to predict with, besides the ids it makes up
    start_cluster(workers=1)
    REPORTS.mkdir(parents=True, exist_ok=True)
    report = REPORTS / "report.ndjson"
    report.unlink(missing_ok=True)
    command = [
        *schemathesis_cli(),
        "run",
        f"{live.url}/api/schema/",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_SECONDS),
        "--seed",
        "20261121",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Token {token}",
        # What the TLS proxy adds; without it the server redirects to https://.
        "--header",
        "X-Forwarded-Proto: https",
        "--generation-database",
        "none",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--no-color",
    ]
    result = subprocess.run(
        command,
        cwd=BASE_DIR,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS + 180,
    )
    output = result.stdout + result.stderr
    (REPORTS / "output.txt").write_text(output)
    summary = summarise(report)
    figures.values.update(summary)
    figures["checks"] = CHECKS.split(",")
    figures["max_examples_per_operation"] = MAX_EXAMPLES
    assert result.returncode == 0, output[-8000:]
    assert live.http.get("/api/v1/me/", token=token).status in (200, 401)  # still serving


def summarise(report: Path) -> dict:
    """Operations, test cases and requests from schemathesis' ndjson event stream."""
    operations: set[str] = set()
    requests = 0
    statuses: dict[str, int] = {}
    if not report.exists():
        return {"report": "missing"}
    for line in report.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        text = json.dumps(event)
        for label in _labels(event):
            operations.add(label)
        for status in _statuses(event):
            requests += 1
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        del text
    return {"operations": len(operations), "requests": requests, "statuses": dict(sorted(statuses.items()))}


def _labels(event, found=None) -> set[str]:
    found = set() if found is None else found
    if isinstance(event, dict):
        label = event.get("label")
        if isinstance(label, str) and label.split(" ", 1)[0] in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            found.add(label)
        for value in event.values():
            _labels(value, found)
    elif isinstance(event, list):
        for value in event:
            _labels(value, found)
    return found


def _statuses(event) -> list[int]:
    found: list[int] = []

    def walk(value):
        if isinstance(value, dict):
            response = value.get("response")
            if isinstance(response, dict) and isinstance(response.get("status_code"), int):
                found.append(response["status_code"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(event)
    return found

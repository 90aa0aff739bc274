"""Logs: one JSON line per request and per job event, carrying the request id and the
job id; never a token, a password, a query string or uploaded data."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_q.tasks import async_task

from accounts.services import token_for_user
from core.logs import ContextFilter, PlainFormatter, job_context, request_id_var
from predictions.models import Prediction
from tests.conftest import PASSWORD

BASE_DIR = Path(__file__).resolve().parents[2]


def request_lines(logs) -> list[dict]:
    return [line for line in logs.lines() if line["logger"] == "mlservice.request"]


def test_a_request_gets_an_id_returned_in_the_response(db, client):
    response = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert client.get("/healthz")["X-Request-ID"] != response["X-Request-ID"]


def test_a_plain_incoming_request_id_is_kept_and_echoed(db, client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.2026:42_x")
    assert response["X-Request-ID"] == "lb-7f3a.2026:42_x"


@pytest.mark.parametrize("incoming", ["x" * 65, "two words", "<script>", "-starts-with-dash", "line\\nbreak"])
def test_an_unsafe_incoming_request_id_is_replaced(db, client, incoming):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_each_request_is_one_json_line_with_its_id_and_user(alice, alice_api, json_logs):
    response = alice_api.get("/api/v1/predictions/?page=1", HTTP_X_REQUEST_ID="req-one")
    assert response.status_code == 200

    [line] = request_lines(json_logs)
    assert line["message"] == f"GET /api/v1/predictions/ 200 {line['duration_ms']:.1f}ms"
    assert line["event"] == "request"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/predictions/"
    assert line["view"] == "prediction-list"
    assert line["status"] == 200
    assert line["request_id"] == "req-one"
    assert line["user_id"] == alice.pk
    assert line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00")


def test_lines_logged_while_answering_carry_the_request_id(db, client, json_logs):
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-404")
    by_logger = {line["logger"]: line for line in json_logs.lines()}
    assert by_logger["django.request"]["message"] == "Not Found: /no-such-page/"
    assert by_logger["django.request"]["request_id"] == "req-404"
    assert by_logger["mlservice.request"]["request_id"] == "req-404"
    assert request_id_var.get() is None  # and nothing leaks into the next request


def test_no_token_password_query_string_or_uploaded_data_reaches_the_log(
    alice, client, trained_model, json_logs, settings
):
    token = token_for_user(user=alice).key
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    marker = "Sensitive-Customer-Value-9431"
    good_csv = f"x,color\n0.1,{marker}\n0.7,red\n".encode()
    bad_csv = f"x,color\n{marker},red\n".encode()

    answered = client.post(
        "/api/v1/predictions/?api_key=query-secret-123",
        {
            "model": trained_model.pk,
            "file": SimpleUploadedFile("rows.csv", good_csv, content_type="text/csv"),
        },
        **auth,
    )
    assert answered.status_code == 202, answered.content
    refused = client.post(
        "/api/v1/predictions/?api_key=query-secret-123",
        {"model": trained_model.pk, "file": SimpleUploadedFile("rows.csv", bad_csv, content_type="text/csv")},
        **auth,
    )
    assert refused.status_code == 400
    assert (
        client.post("/accounts/login/", {"username": "alice", "password": "wrong-" + PASSWORD}).status_code
        == 200
    )
    assert (
        client.post(
            "/accounts/login/?next=/dashboard/&password=query-secret-123",
            {"username": "alice", "password": PASSWORD},
        ).status_code
        == 302
    )

    text = json_logs.text
    assert len(request_lines(json_logs)) == 4
    for secret in (token, PASSWORD, "query-secret-123", "api_key", marker, "rows.csv"):
        assert secret not in text, f"{secret!r} was logged"
    assert {line["path"] for line in request_lines(json_logs)} == {"/api/v1/predictions/", "/accounts/login/"}


def test_a_job_s_events_carry_its_id_and_status_transition(alice_api, trained_model, json_logs):
    response = alice_api.post(
        "/api/v1/predictions/",
        {"model": trained_model.pk, "inputs": [{"x": 0.2, "color": "red"}]},
        format="json",
        HTTP_X_REQUEST_ID="req-job",
    )
    assert response.status_code == 202
    prediction_id = response.json()["id"]
    # The on-commit enqueue does not run inside the test's transaction: run the task
    # the way a worker does (django-q's own worker function), in this process.
    async_task("predictions.tasks.run_prediction", prediction_id, sync=True, task_name="obs-sync")

    events = {line["event"]: line for line in json_logs.lines() if line["logger"] == "mlservice.jobs"}
    assert events["enqueued"]["job_kind"] == "prediction"
    assert events["enqueued"]["job_id"] == prediction_id
    started, finished = events["started"], events["finished"]
    for line in (started, finished):
        assert line["job_kind"] == "prediction"
        assert line["job_id"] == prediction_id
        assert line["task_id"] == events["enqueued"]["task_id"]
    # A prediction reports its own status moves (no status reads for the log lines):
    # the transition is on the finished line.
    assert started.get("from_status") is None
    assert finished["from_status"] == "queued"
    assert finished["to_status"] == "succeeded"
    assert finished["success"] is True
    assert finished["message"] == f"prediction {prediction_id} finished queued → succeeded"
    assert Prediction.objects.get(pk=prediction_id).status == "succeeded"


def test_a_move_of_another_job_is_not_taken_for_the_running_one(db, json_logs):
    # The sweep, say, fails prediction 7 while the task for prediction 5 runs.
    from core.job_events import job_status_moved, on_post_execute_in_worker, on_pre_execute

    task = {"id": "task-5", "func": "predictions.tasks.run_prediction", "args": (5,), "success": True}
    on_pre_execute(sender=None, task=task)
    job_status_moved("prediction", 7, "running", "failed")
    job_status_moved("training", 5, "queued", "running")
    job_status_moved("prediction", 5, "queued", "running")
    job_status_moved("prediction", 5, "running", "succeeded")
    on_post_execute_in_worker(sender=None, task=task)

    finished = next(line for line in json_logs.lines() if line.get("event") == "finished")
    assert (finished["job_id"], finished["from_status"], finished["to_status"]) == (5, "queued", "succeeded")


def test_lines_inside_a_job_context_carry_the_job(json_logs):
    with job_context("training", 12, task_id="t-1"):
        logging.getLogger("mlmodels.services").warning("fitting took long")
    logging.getLogger("mlmodels.services").warning("outside")

    inside, outside = json_logs.lines()
    assert (inside["job_kind"], inside["job_id"], inside["task_id"]) == ("training", 12, "t-1")
    assert "job_kind" not in outside


def test_the_plain_format_appends_the_ids():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PlainFormatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("obs.plain")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        token = request_id_var.set("req-plain")
        with job_context("prediction", 5):
            logger.warning("scoring")
        request_id_var.reset(token)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert (
        stream.getvalue() == "WARNING obs.plain scoring [request_id=req-plain job_kind=prediction job_id=5]\n"
    )


@pytest.fixture
def plain_logs():
    """Everything logged during the test, as the console handler writes it with
    LOG_FORMAT=plain (the settings' format string)."""
    from django.conf import settings

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PlainFormatter(settings.LOGGING["formatters"]["plain"]["format"]))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


FORGED = "2026-11-23 09:00:00,000 INFO mlservice.request POST /admin/login/ 302 1.0ms"


def test_a_newline_in_a_request_path_cannot_forge_a_plain_log_line(db, client, plain_logs):
    # %0A is a newline once Django decodes the path; %0D a carriage return, %1B[2J an
    # ANSI "clear screen" for whoever tails the log in a terminal.
    forged_path = "/no-such-page%0A" + FORGED.replace(" ", "%20") + "%0D%1B[2J"
    assert client.get(forged_path).status_code == 404

    lines = plain_logs.getvalue().splitlines()
    assert not any(line.startswith(FORGED) for line in lines)
    # Every line is a record: date, time, level, logger (django.request adds its own).
    assert [line.split()[3] for line in lines] == ["mlservice.request", "django.request"]
    line = lines[0]
    assert "GET /no-such-page\\n2026-11-23 09:00:00,000 INFO mlservice.request POST" in line
    assert line.endswith("]") and "\\r\\x1b[2J 404 " in line
    assert "\x1b" not in plain_logs.getvalue() and "\r" not in plain_logs.getvalue()


def test_every_plain_log_value_and_traceback_line_is_escaped():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(PlainFormatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("obs.escape")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with job_context("prediction\nINFO forged", 5):
            try:
                raise ValueError("bad cell\nERROR forged by an exception")
            except ValueError:
                logger.exception("reading %s", "a\x9b31mred\u2028b")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True

    first, *traceback = stream.getvalue().splitlines()
    assert first == (
        "ERROR obs.escape reading a\\x9b31mred\\u2028b [job_kind=prediction\\nINFO forged job_id=5]"
    )
    assert traceback[0] == "  Traceback (most recent call last):"
    assert traceback[-2:] == ["  ValueError: bad cell", "  ERROR forged by an exception"]
    assert all(line.startswith("  ") for line in traceback)


def test_json_log_lines_escape_what_json_leaves_raw(json_logs):
    logging.getLogger("obs.json").warning("path %s", "/a\x9b\u2028\x7f\nb")

    (line,) = [line for line in json_logs.text.splitlines() if "obs.json" in line]
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", line)
    assert json.loads(line)["message"] == "path /a\x9b\u2028\x7f\nb"


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_log_format_json_writes_json_lines_and_a_bad_value_fails_loudly(tmp_path):
    shown = run_manage(
        "shell",
        "-c",
        "import logging; logging.getLogger('obs').warning('hello %s', 'there')",
        env={"LOG_FORMAT": "json", "VAR_DIR": str(tmp_path)},
    )
    lines = [json.loads(line) for line in shown.stderr.splitlines() if line.startswith("{")]
    assert {"level": "WARNING", "logger": "obs", "message": "hello there"}.items() <= lines[-1].items()

    refused = run_manage("check", env={"LOG_FORMAT": "xml", "VAR_DIR": str(tmp_path)})
    assert refused.returncode != 0
    assert "LOG_FORMAT must be json or plain, got 'xml'" in refused.stderr

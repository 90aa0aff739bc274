"""Structured logs: every line carries the request id or the job it belongs to.

The request id and the current job live in context variables, set by
``RequestContextMiddleware`` in web processes and by the django-q signal receivers
in ``core.job_events`` in workers; ``ContextFilter`` copies them onto each log
record, and one of the two formatters writes the line (``LOG_FORMAT``).

Imported by the LOGGING setting, before Django is set up: no models here.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept only when it is short and made of characters that cannot
# forge a log line or a header: anything else is replaced by a fresh one.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


@dataclass(frozen=True)
class JobContext:
    kind: str
    job_id: int | str | None
    task_id: str | None = None


request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_var: ContextVar[JobContext | None] = ContextVar("job", default=None)

job_logger = logging.getLogger("mlservice.jobs")


def request_id_from(value: str | None) -> str:
    """The client's ``X-Request-ID`` when it is safe to repeat, else a new id."""
    if value and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


@contextmanager
def job_context(kind: str, job_id: int | str | None, *, task_id: str | None = None) -> Iterator[None]:
    """Every line logged inside carries ``job_kind`` and ``job_id``::

    with job_context("prediction", prediction_id):
        ...
    """
    token = job_var.set(JobContext(kind=kind, job_id=job_id, task_id=task_id))
    try:
        yield
    finally:
        job_var.reset(token)


def job_event(
    kind: str,
    job_id: int | str | None,
    event: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """One log line for one thing that happened to a job (enqueued, started, finished,
    canceled, swept…), with its status transition when there is one. ``fields`` must be
    plain values (str, numbers, bool): never user data."""
    transition = f" {from_status} → {to_status}" if from_status or to_status else ""
    job_logger.log(
        level,
        "%s %s %s%s",
        kind,
        job_id if job_id is not None else "-",
        event,
        transition,
        extra={
            "event": event,
            "job_kind": kind,
            "job_id": job_id,
            "from_status": from_status,
            "to_status": to_status,
            **fields,
        },
    )


# --- Logging plumbing ---------------------------------------------------------------------

CONTEXT_FIELDS = ("request_id", "job_kind", "job_id", "task_id")
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# django.request passes the request object as ``extra``: its repr carries the query
# string, which may hold a secret. Only plain values from ``extra`` are written anyway.
_NEVER_WRITTEN = {"request", "args", "msg"}


class ContextFilter(logging.Filter):
    """Copies the current request id and job onto the record (values passed with
    ``extra=`` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            # django.request logs 4xx/5xx answers after the middleware has returned
            # (and cleared the variable), but hands over the request, which has the id.
            record.request_id = request_id_var.get() or getattr(
                getattr(record, "request", None), "request_id", None
            )
        job = job_var.get()
        if job is not None:
            if getattr(record, "job_kind", None) is None:
                record.job_kind = job.kind
            if getattr(record, "job_id", None) is None:
                record.job_id = job.job_id
            if getattr(record, "task_id", None) is None:
                record.task_id = job.task_id
        return True


def _plain_extras(record: logging.LogRecord) -> dict[str, Any]:
    extras = {}
    for key, value in vars(record).items():
        if key in _RECORD_ATTRIBUTES or key in _NEVER_WRITTEN or key.startswith("_"):
            continue
        if value is None or isinstance(value, (str, int, float, bool)):
            extras[key] = value
    return extras


# Characters that could end a log line, rewrite a terminal or hide text: C0 controls
# (newline, carriage return, escape, ...), DEL, C1 controls (0x9b is a one-byte ANSI
# CSI) and the Unicode line and paragraph separators some viewers break lines at.
_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_control_characters(value: object) -> str:
    """``value`` as text with every control character written as an escape (``\\n``,
    ``\\x1b``, ``\\u2028``): a value logged from a request (a path, a name) can then
    neither start a forged line nor send escape sequences to an operator's terminal."""
    return _CONTROL_CHARACTERS.sub(_escaped, str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the request and job
    context, the plain values given with ``extra=``, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _plain_extras(record).items():
            if value is not None and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # json.dumps escapes C0 controls itself; DEL, C1 controls and the Unicode line
        # separators it leaves raw are escaped here (\\u escapes: still valid JSON).
        return _RAW_IN_JSON.sub(_json_escape, json.dumps(entry, ensure_ascii=False, default=str))


_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class PlainFormatter(logging.Formatter):
    """The classic text line, with the request id and job appended in brackets.

    One record is one line: control characters in the message and in every field are
    escaped (a newline in a request path cannot forge a second record). A traceback
    follows on lines of its own, each indented, so only a record's first line ever
    starts at the margin."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 -- logging's name
        return escape_control_characters(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        first, _, rest = super().format(record).partition("\n")
        context = [
            f"{key}={escape_control_characters(getattr(record, key))}"
            for key in CONTEXT_FIELDS
            if getattr(record, key, None) is not None
        ]
        if context:
            first = f"{first} [{' '.join(context)}]"
        if not rest:
            return first
        # The traceback (and stack) lines: a line of an exception's message may hold
        # anything, so each is indented and stripped of control characters.
        continued = (f"  {escape_control_characters(line)}" for line in rest.split("\n"))
        return "\n".join([first, *continued])


def current_task_id() -> str:
    """The django-q task id of the job this worker runs now ("" outside a task): set by
    core.job_events when django-q starts the task."""
    job = job_var.get()
    return str(job.task_id) if job is not None and job.task_id else ""

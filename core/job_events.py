"""Job events in the logs, from django-q's signals: no task has to remember to log.

* ``pre_enqueue`` (in the process that enqueues, usually a web request): logs
  ``enqueued`` with the job and the request id, and puts the request id into the task
  package, so the worker's lines for the job carry the id of the request behind it.
* ``pre_execute`` (in the worker, just before the task function runs): sets the job
  context, so every line the task logs carries ``job_kind``/``job_id``/``task_id``,
  and logs ``started``.
* ``post_execute_in_worker`` (right after it returns or raises): logs ``finished``
  with the status transition the job made (``queued → succeeded``, reported by the
  lifecycle's moves through ``job_status_moved``: no status is read back), the outcome
  and the time taken, then clears the context.

A task function is known as a job by its kind's task (core.jobs.kinds); any other task
(the sweep, a test's trivial task) is logged as kind ``task`` without a status.
These receivers never raise: a log line must not stop a job.
"""

from __future__ import annotations

import logging
import time
from contextvars import Token
from dataclasses import dataclass

from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute
from django_q.utils import get_func_repr

from core.jobs.kinds import kind_for_task
from core.logs import JobContext, job_event, job_var, request_id_var

logger = logging.getLogger(__name__)

# Key added to the task package; django-q ignores keys it does not know.
REQUEST_ID_KEY = "mlservice_request_id"


@dataclass
class _Running:
    context_token: Token
    request_token: Token | None
    from_status: str | None
    started: float
    moved: bool = False
    to_status: str | None = None


# One task at a time runs in a worker process, but keyed by task id all the same.
_running: dict[str, _Running] = {}


def _job_of(task: dict) -> tuple[str, int | str | None]:
    """The job kind and id of a task of a registered job kind, else ("task", None)."""
    kind = kind_for_task(get_func_repr(task.get("func")) or "?")
    args = task.get("args") or ()
    job_id = args[0] if kind and args and isinstance(args[0], (int, str)) else None
    return (kind.name if kind else "task"), job_id


def on_pre_enqueue(sender, task: dict, **kwargs) -> None:
    try:
        request_id = request_id_var.get()
        if request_id:
            task[REQUEST_ID_KEY] = request_id
        kind, job_id = _job_of(task)
        job_event(
            kind,
            job_id,
            "enqueued",
            task_id=str(task.get("id")),
            task_name=str(task.get("name")),
            func=get_func_repr(task.get("func")),
        )
    except Exception:
        logger.exception("could not log the enqueued task")


def on_pre_execute(sender, task: dict, **kwargs) -> None:
    try:
        kind, job_id = _job_of(task)
        task_id = str(task.get("id"))
        request_token = None
        if task.get(REQUEST_ID_KEY):
            request_token = request_id_var.set(str(task[REQUEST_ID_KEY]))
        context_token = job_var.set(JobContext(kind=kind, job_id=job_id, task_id=task_id))
        running = _Running(context_token, request_token, None, time.monotonic())
        _running[task_id] = running
        job_event(
            kind, job_id, "started", from_status=running.from_status, func=get_func_repr(task.get("func"))
        )
    except Exception:
        logger.exception("could not log the started task")


def on_post_execute_in_worker(sender, task: dict, **kwargs) -> None:
    task_id = str(task.get("id"))
    running = _running.pop(task_id, None)
    try:
        kind, job_id = _job_of(task)
        to_status = running.to_status if running is not None and running.moved else None
        success = bool(task.get("success"))
        if not success:
            level = logging.ERROR
        elif to_status == "failed":
            level = logging.WARNING
        else:
            level = logging.INFO
        job_event(
            kind,
            job_id,
            "finished",
            from_status=running.from_status if running else None,
            to_status=to_status,
            level=level,
            success=success,
            duration_ms=round((time.monotonic() - running.started) * 1000, 1) if running else None,
            func=get_func_repr(task.get("func")),
        )
    except Exception:
        logger.exception("could not log the finished task")
    finally:
        if running is not None:
            try:
                job_var.reset(running.context_token)
                if running.request_token is not None:
                    request_id_var.reset(running.request_token)
            except ValueError:  # set in another context (cannot happen in a worker)
                job_var.set(None)
                request_id_var.set(None)


def job_status_moved(kind: str, job_id: int | str, from_status: str, to_status: str) -> None:
    """Record a status move of the job the current task runs, for its log lines (a
    move of any other job — the sweep failing one, say — is not this task's)."""
    job = job_var.get()
    if job is None or job.kind != kind or job.job_id != job_id:
        return
    running = _running.get(str(job.task_id))
    if running is None:
        return
    if not running.moved:
        running.from_status, running.moved = str(from_status), True
    running.to_status = str(to_status)


def connect() -> None:
    pre_enqueue.connect(on_pre_enqueue, dispatch_uid="core.job_events.pre_enqueue")
    pre_execute.connect(on_pre_execute, dispatch_uid="core.job_events.pre_execute")
    post_execute_in_worker.connect(on_post_execute_in_worker, dispatch_uid="core.job_events.post_execute")

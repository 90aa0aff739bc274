"""CPU and memory of every web and worker process, for /metrics: each process writes
its own row at most every ``REPORT_SECONDS`` (the web after a request other than a
scrape, a worker when it starts and after each task), and a scrape reads the rows of
processes heard from within ``STALE_SECONDS``, plus its own process's figures of the
moment. prometheus_client's process collector covers only the process that
answers the scrape; these rows cover every process on every machine.

Never raises: a metric must not fail a request or a task."""

from __future__ import annotations

import logging
import os
import resource
import socket
import sys
import threading
import time
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from monitoring.models import ProcessSample

logger = logging.getLogger(__name__)

REPORT_SECONDS = 15
# A process not heard from for this long is gone (or idle: a worker reports per task).
STALE_SECONDS = 300
# Rows of processes gone this long are deleted by the next process that starts.
FORGET_AFTER = timedelta(hours=1)

_lock = threading.Lock()
_state = {"pid": 0, "reported": 0.0, "started": None}


def resident_bytes() -> int:
    """This process's resident memory now (Linux /proc); elsewhere its peak."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_report(*, role: str, force: bool = False) -> None:
    """Write this process's row if it last did more than REPORT_SECONDS ago."""
    now = time.monotonic()
    pid = os.getpid()
    with _lock:
        if _state["pid"] != pid:  # a fork: a new process with the parent's memory
            _state.update(pid=pid, reported=0.0, started=timezone.now())
        elif not force and now - _state["reported"] < REPORT_SECONDS:
            return
        _state["reported"] = now
        started = _state["started"]
    try:
        _, created = ProcessSample.objects.update_or_create(
            host=socket.gethostname()[:255],
            pid=pid,
            role=role,
            defaults={
                "cpu_seconds": cpu_seconds(),
                "resident_bytes": resident_bytes(),
                "started_at": started,
                "updated_at": timezone.now(),
            },
        )
        if created:
            ProcessSample.objects.filter(updated_at__lt=timezone.now() - FORGET_AFTER).delete()
    except DatabaseError as error:
        logger.warning("process sample not written: %s", error)
    except Exception:
        logger.exception("process sample not written")


def live_processes(*, answering_role: str = "web") -> list[ProcessSample]:
    """The processes heard from within STALE_SECONDS, and the answering process with
    its figures of this moment (read, not written: a scrape writes nothing)."""
    since = timezone.now() - timedelta(seconds=STALE_SECONDS)
    host, pid = socket.gethostname()[:255], os.getpid()
    rows = [
        row
        for row in ProcessSample.objects.filter(updated_at__gte=since)
        if (row.host, row.pid, row.role) != (host, pid, answering_role)
    ]
    now = timezone.now()
    rows.append(
        ProcessSample(
            role=answering_role,
            host=host,
            pid=pid,
            cpu_seconds=cpu_seconds(),
            resident_bytes=resident_bytes(),
            started_at=_state["started"] or now,
            updated_at=now,
        )
    )
    return sorted(rows, key=lambda row: (row.role, row.host, row.pid))

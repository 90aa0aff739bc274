"""What one job may cost its worker process: memory on top of what the process holds
when the job starts (JOB_MEMORY_LIMIT_MB, as RLIMIT_DATA on Linux, which counts every
private allocation: NumPy arrays, CatBoost's pools, pandas frames). An allocation past
it raises MemoryError inside the job, which fails readably and leaves the worker alive
for the next job; without the limit it would take the machine's memory (or be killed
by the kernel, taking the worker with it). Time is bounded by TASK_TIMEOUT."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

_STATUS = Path("/proc/self/status")
_VM_DATA = re.compile(r"^VmData:\s+(\d+)\s+kB", re.MULTILINE)


def _data_bytes() -> int | None:
    """This process's data segment now (Linux), or None where it cannot be read."""
    try:
        match = _VM_DATA.search(_STATUS.read_text())
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def memory_limit_mb() -> int:
    return settings.JOB_MEMORY_LIMIT_MB


@contextmanager
def job_memory_limit() -> Iterator[None]:
    """Hold the job to JOB_MEMORY_LIMIT_MB more than the process uses now; the previous
    limit comes back afterwards. Does nothing when the limit is 0 or the platform has
    no RLIMIT_DATA."""
    limit_mb = memory_limit_mb()
    current = _data_bytes() if limit_mb and resource is not None else None
    if current is None:
        yield
        return
    previous = resource.getrlimit(resource.RLIMIT_DATA)
    soft = current + limit_mb * 1024 * 1024
    if previous[1] != resource.RLIM_INFINITY:
        soft = min(soft, previous[1])
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, previous[1]))
    except (ValueError, OSError) as error:
        logger.warning("could not set the job's memory limit: %s", error)
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, previous)


def out_of_memory_message(what: str) -> str:
    """The one readable error for a job that hit its memory limit."""
    return (
        f"{what} needed more memory than one job may use ({memory_limit_mb():,} MB, JOB_MEMORY_LIMIT_MB); "
        "use fewer rows or features, or a lighter algorithm."
    )
